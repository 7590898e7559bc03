// Parses COER files with Bouncy Castle's ITS OER classes, re-encodes them and prints one JSON line per file.
//
// Usage: java -cp <bc jars>:<dir> ItsOerCheck Certificate:<path> Ieee1609Dot2Data:<path> ...
// Compiled at test time by tests/interop/tools.py; one JVM handles every file so the tests stay fast.
// Output fields: file, type, ok, error, trailing (octets left after the top-level value),
// generic (hex of the re-encoding of BC's untyped parse), typed (hex of the re-encoding of BC's typed
// object, which is where BC 1.72 drops what its model lacks) and summary (fields read through BC's getters).

import java.io.ByteArrayInputStream;
import java.math.BigInteger;
import java.nio.file.Files;
import java.nio.file.Paths;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

import org.bouncycastle.asn1.ASN1Encodable;
import org.bouncycastle.asn1.ASN1Object;
import org.bouncycastle.oer.Element;
import org.bouncycastle.oer.OEREncoder;
import org.bouncycastle.oer.OERInputStream;
import org.bouncycastle.oer.its.ieee1609dot2.Certificate;
import org.bouncycastle.oer.its.ieee1609dot2.CertificateId;
import org.bouncycastle.oer.its.ieee1609dot2.Ieee1609Dot2Content;
import org.bouncycastle.oer.its.ieee1609dot2.Ieee1609Dot2Data;
import org.bouncycastle.oer.its.ieee1609dot2.IssuerIdentifier;
import org.bouncycastle.oer.its.ieee1609dot2.RecipientInfo;
import org.bouncycastle.oer.its.ieee1609dot2.EncryptedData;
import org.bouncycastle.oer.its.ieee1609dot2.SequenceOfCertificate;
import org.bouncycastle.oer.its.ieee1609dot2.SignedData;
import org.bouncycastle.oer.its.ieee1609dot2.SignerIdentifier;
import org.bouncycastle.oer.its.ieee1609dot2.ToBeSignedCertificate;
import org.bouncycastle.oer.its.ieee1609dot2.VerificationKeyIndicator;
import org.bouncycastle.oer.its.ieee1609dot2.basetypes.HashedId;
import org.bouncycastle.oer.its.ieee1609dot2.basetypes.PsidSsp;
import org.bouncycastle.oer.its.template.ieee1609dot2.IEEE1609dot2;
import org.bouncycastle.util.encoders.Hex;

public final class ItsOerCheck {
    private static final String[] CONTENT = {"unsecuredData", "signedData", "encryptedData", "signedCertificateRequest"};
    private static final String[] ISSUER = {"sha256AndDigest", "self", "sha384AndDigest"};
    private static final String[] CERT_ID = {"linkageData", "name", "binaryId", "none"};
    private static final String[] SIGNER = {"digest", "certificate", "self"};
    private static final String[] VKI = {"verificationKey", "reconstructionValue"};
    private static final String[] RECIPIENT = {
        "pskRecipInfo", "symmRecipInfo", "certRecipInfo", "signedDataRecipInfo", "rekRecipInfo"};

    public static void main(String[] args) throws Exception {
        Element certificate = IEEE1609dot2.Certificate.build();
        Element data = IEEE1609dot2.Ieee1609Dot2Data.build();
        for (String arg : args) {
            int colon = arg.indexOf(':');
            String type = arg.substring(0, colon);
            String path = arg.substring(colon + 1);
            Map<String, Object> out = new LinkedHashMap<>();
            out.put("file", path);
            out.put("type", type);
            try {
                byte[] raw = Files.readAllBytes(Paths.get(path));
                Element element = type.equals("Certificate") ? certificate : data;
                OERInputStream in = new OERInputStream(new ByteArrayInputStream(raw));
                ASN1Object generic = in.parse(element);
                out.put("trailing", in.available());
                out.put("generic", Hex.toHexString(OEREncoder.toByteArray(generic, element)));
                Map<String, Object> summary = new LinkedHashMap<>();
                ASN1Object typed;
                if (type.equals("Certificate")) {
                    Certificate cert = Certificate.getInstance(generic);
                    summarizeCertificate(cert, summary);
                    typed = cert;
                } else if (type.equals("Ieee1609Dot2Data")) {
                    Ieee1609Dot2Data value = Ieee1609Dot2Data.getInstance(generic);
                    summarizeData(value, summary);
                    typed = value;
                } else {
                    throw new IllegalArgumentException("unknown type " + type);
                }
                out.put("typed", Hex.toHexString(OEREncoder.toByteArray(typed, element)));
                out.put("summary", summary);
                out.put("ok", true);
            } catch (Exception | AssertionError e) {
                out.put("ok", false);
                out.put("error", e.getClass().getName() + ": " + e.getMessage());
            }
            System.out.println(json(out));
        }
    }

    private static void summarizeCertificate(Certificate cert, Map<String, Object> summary) {
        summary.put("version", cert.getVersion().getValue());
        summary.put("type", cert.getType().getValue());
        IssuerIdentifier issuer = cert.getIssuer();
        summary.put("issuer", ISSUER[issuer.getChoice()]);
        if (issuer.getChoice() != IssuerIdentifier.self) {
            summary.put("issuer_id", Hex.toHexString(((HashedId) issuer.getIssuerIdentifier()).getHashBytes()));
        }
        ToBeSignedCertificate tbs = cert.getToBeSigned();
        summary.put("id", CERT_ID[tbs.getId().getChoice()]);
        summary.put("craca_id", Hex.toHexString(tbs.getCracaId().getHashBytes()));
        summary.put("crl_series", tbs.getCrlSeries().getValue());
        summary.put("start", tbs.getValidityPeriod().getStart().getValue());
        summary.put("duration_choice", tbs.getValidityPeriod().getDuration().getChoice());
        summary.put("duration", tbs.getValidityPeriod().getDuration().getDuration().getValue());
        List<Object> psids = new ArrayList<>();
        if (tbs.getAppPermissions() != null) {
            for (PsidSsp p : tbs.getAppPermissions().getPsidSsps()) {
                psids.add(p.getPsid().getPsid());
            }
        }
        summary.put("app_psids", psids);
        summary.put("cert_issue_permissions", tbs.getCertIssuePermissions() != null);
        summary.put("cert_request_permissions", tbs.getCertRequestPermissions() != null);
        summary.put("encryption_key", tbs.getEncryptionKey() != null);
        VerificationKeyIndicator vki = tbs.getVerifyKeyIndicator();
        summary.put("verify_key_indicator", VKI[vki.getChoice()]);
        summary.put("signature", cert.getSignature() != null);
    }

    private static void summarizeData(Ieee1609Dot2Data value, Map<String, Object> summary) {
        summary.put("protocol_version", value.getProtocolVersion().getValue());
        Ieee1609Dot2Content content = value.getContent();
        summary.put("content", CONTENT[content.getChoice()]);
        if (content.getChoice() == Ieee1609Dot2Content.signedData) {
            SignedData signed = SignedData.getInstance(content.getIeee1609Dot2Content());
            summary.put("psid", signed.getTbsData().getHeaderInfo().getPsid().getPsid());
            summary.put("generation_time", signed.getTbsData().getHeaderInfo().getGenerationTime() != null);
            SignerIdentifier signer = signed.getSigner();
            summary.put("signer", SIGNER[signer.getChoice()]);
            if (signer.getChoice() == SignerIdentifier.certificate) {
                SequenceOfCertificate certs = SequenceOfCertificate.getInstance(signer.getSignerIdentifier());
                summary.put("signer_certificates", certs.getCertificates().size());
            } else if (signer.getChoice() == SignerIdentifier.digest) {
                summary.put("signer_digest", Hex.toHexString(((HashedId) signer.getSignerIdentifier()).getHashBytes()));
            }
            Ieee1609Dot2Data inner = signed.getTbsData().getPayload().getData();
            if (inner != null) {
                summary.put("payload_content", CONTENT[inner.getContent().getChoice()]);
            }
        } else if (content.getChoice() == Ieee1609Dot2Content.encryptedData) {
            EncryptedData encrypted = EncryptedData.getInstance(content.getIeee1609Dot2Content());
            List<Object> kinds = new ArrayList<>();
            for (RecipientInfo r : encrypted.getRecipients().getRecipientInfos()) {
                kinds.add(RECIPIENT[r.getChoice()]);
            }
            summary.put("recipients", kinds);
        }
    }

    private static String json(Object value) {
        if (value == null) {
            return "null";
        }
        if (value instanceof Boolean || value instanceof Integer || value instanceof BigInteger) {
            return value.toString();
        }
        if (value instanceof Map) {
            StringBuilder b = new StringBuilder("{");
            for (Map.Entry<?, ?> e : ((Map<?, ?>) value).entrySet()) {
                if (b.length() > 1) {
                    b.append(", ");
                }
                b.append(json(e.getKey().toString())).append(": ").append(json(e.getValue()));
            }
            return b.append('}').toString();
        }
        if (value instanceof List) {
            StringBuilder b = new StringBuilder("[");
            for (Object item : (List<?>) value) {
                if (b.length() > 1) {
                    b.append(", ");
                }
                b.append(json(item));
            }
            return b.append(']').toString();
        }
        StringBuilder b = new StringBuilder("\"");
        for (char c : value.toString().toCharArray()) {
            if (c == '"' || c == '\\') {
                b.append('\\').append(c);
            } else if (c < 0x20) {
                b.append(String.format("\\u%04x", (int) c));
            } else {
                b.append(c);
            }
        }
        return b.append('"').toString();
    }
}
