"""Is a certificate's GeographicRegion inside its issuer's? (1609.2 §5.1.2.4, §6.4.17-§6.4.22).

Decided here: circle in circle (great-circle distance on a sphere of the WGS84 mean radius, so
a few metres of slack near the limit), rectangle set in rectangle set (each subject rectangle
inside one issuer rectangle; no antimeridian wrap), circle in rectangle set (its bounding box
inside one rectangle), and identified regions by country (country-only equality; a
country-and-regions entry needs the same country, with a subset of regions when the issuer
lists regions too). Every other pairing, polygons included, is refused: fail closed.
"""

from __future__ import annotations

import math
from typing import Any

from ..errors import ChainError

__all__ = ["check_region_within"]

_EARTH_RADIUS_M = 6_371_008.8  # IUGG mean radius of the WGS84 ellipsoid
_TENTH_MICRODEGREE = 1e-7


def _degrees(location: dict[str, Any]) -> tuple[float, float]:
    return location["latitude"] * _TENTH_MICRODEGREE, location["longitude"] * _TENTH_MICRODEGREE


def _distance_m(a: dict[str, Any], b: dict[str, Any]) -> float:
    (lat1, lon1), (lat2, lon2) = _degrees(a), _degrees(b)
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lon2 - lon1)
    h = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * _EARTH_RADIUS_M * math.asin(min(1.0, math.sqrt(h)))


def _rect_within(inner: dict[str, Any], outer: dict[str, Any]) -> bool:
    return bool(
        inner["northWest"]["latitude"] <= outer["northWest"]["latitude"]
        and inner["southEast"]["latitude"] >= outer["southEast"]["latitude"]
        and inner["northWest"]["longitude"] >= outer["northWest"]["longitude"]
        and inner["southEast"]["longitude"] <= outer["southEast"]["longitude"]
    )


def _circle_box(circle: dict[str, Any]) -> dict[str, Any]:
    lat, lon = _degrees(circle["center"])
    dlat = math.degrees(circle["radius"] / _EARTH_RADIUS_M)
    dlon = dlat / max(math.cos(math.radians(lat)), 1e-9)
    scale = 1 / _TENTH_MICRODEGREE
    return {
        "northWest": {"latitude": math.ceil((lat + dlat) * scale), "longitude": math.floor((lon - dlon) * scale)},
        "southEast": {"latitude": math.floor((lat - dlat) * scale), "longitude": math.ceil((lon + dlon) * scale)},
    }


def _country(entry: tuple[str, Any]) -> tuple[int, frozenset[int] | None]:
    kind, body = entry
    if kind == "countryOnly":
        return int(body), None
    if kind == "countryAndRegions":
        return int(body["countryOnly"]), frozenset(int(r) for r in body["regions"])
    raise ChainError(f"region: identified region {kind!r} is not checked")


def _identified_within(inner: list[tuple[str, Any]], outer: list[tuple[str, Any]]) -> bool:
    allowed = [_country(e) for e in outer]
    for entry in inner:
        country, regions = _country(entry)
        ok = any(
            c == country and (outer_regions is None or (regions is not None and regions <= outer_regions))
            for c, outer_regions in allowed
        )
        if not ok:
            return False
    return True


def check_region_within(subject: Any, issuer: Any, where: str) -> None:
    """Raise ``ChainError`` unless region ``subject`` lies inside region ``issuer`` (None = unrestricted/inherited)."""
    if issuer is None or subject is None:
        # An issuer without a region does not restrict; a subject without one inherits its issuer's.
        return
    s_kind, s_body = subject
    i_kind, i_body = issuer
    if s_kind == "circularRegion" and i_kind == "circularRegion":
        inside = _distance_m(s_body["center"], i_body["center"]) + s_body["radius"] <= i_body["radius"]
    elif s_kind == "rectangularRegion" and i_kind == "rectangularRegion":
        inside = all(any(_rect_within(r, o) for o in i_body) for r in s_body)
    elif s_kind == "circularRegion" and i_kind == "rectangularRegion":
        box = _circle_box(s_body)
        inside = any(_rect_within(box, o) for o in i_body)
    elif s_kind == "identifiedRegion" and i_kind == "identifiedRegion":
        inside = _identified_within(s_body, i_body)
    else:
        raise ChainError(f"{where}: region {s_kind} inside {i_kind} is not checked by this SCMS")
    if not inside:
        raise ChainError(f"{where}: region {s_kind} is not inside the issuer's {i_kind}")
