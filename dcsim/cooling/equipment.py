"""Component laws shared by the subsystems: EnergyPlus curves, moist-air enthalpy slope,
fan-driven heat exchangers (tower, dry cooler) and variable-speed pumps."""

from __future__ import annotations

import math
from typing import Any

from dcsim.cooling.config import PumpsConfig


def biquadratic(c: list[float] | tuple[float, ...], x: float, y: float) -> float:
    """EnergyPlus Curve:Biquadratic: c0 + c1 x + c2 x^2 + c3 y + c4 y^2 + c5 x y."""
    return c[0] + c[1] * x + c[2] * x * x + c[3] * y + c[4] * y * y + c[5] * x * y


def quadratic(c: list[float] | tuple[float, ...], p: float) -> float:
    """EnergyPlus Curve:Quadratic: c0 + c1 p + c2 p^2."""
    return c[0] + c[1] * p + c[2] * p * p


BARE_FAN_LAW = (0.0, 0.0, 0.0, 1.0)  # affinity law: power ~ speed^3, no motor/drive losses


def part_load_curve(coeffs: list[float] | None) -> tuple[float, float, float, float]:
    """A fan's or pump's cubic part-load curve normalised to 1 at design (c(1) = 1), so the
    rated power stays the rated power; None is the bare affinity law x^3."""
    if coeffs is None:
        return BARE_FAN_LAW
    s = sum(coeffs)
    c0, c1, c2, c3 = (v / s for v in coeffs)
    return c0, c1, c2, c3


def part_load(curve: tuple[float, float, float, float], x: Any) -> Any:
    """Electric power / design power at flow (speed) fraction x of a variable-speed fan or
    pump: c0 + c1 x + c2 x^2 + c3 x^3 (EnergyPlus Curve:Cubic). One function for every fan
    and pump, on floats or arrays (same operations, so a batch matches the scalar path)."""
    c0, c1, c2, c3 = curve
    return c0 + x * (c1 + x * (c2 + x * c3))


P_ATM = 101325.0  # Pa, sea level


def saturation_humidity_ratio(t_c: float) -> float:
    """Humidity ratio of saturated air at t_c, kg water / kg dry air, at 101.325 kPa
    (Magnus vapour pressure, Alduchov & Eskridge 1996; w = 0.622 e_s / (p - e_s))."""
    es = 610.94 * math.exp(17.625 * t_c / (t_c + 243.04))
    return 0.622 * es / (P_ATM - es)


def moist_air_enthalpy(t_c: float, w: float) -> float:
    """h = 1006 T + w (2.501e6 + 1860 T), J/kg dry air (ASHRAE Fundamentals ch. 1, eq. 30)."""
    return 1006.0 * t_c + w * (2.501e6 + 1860.0 * t_c)


def humidity_ratio_from_wet_bulb(dry_bulb_c: float, wet_bulb_c: float) -> float:
    """Humidity ratio from dry and wet bulb (ASHRAE Fundamentals 2017 ch. 1, eq. 33, SI):
    w = ((2501 - 2.326 t*) w_s* - 1.006 (t - t*)) / (2501 + 1.86 t - 4.186 t*)."""
    t, ts = dry_bulb_c, min(wet_bulb_c, dry_bulb_c)
    ws = saturation_humidity_ratio(ts)
    w = ((2501.0 - 2.326 * ts) * ws - 1.006 * (t - ts)) / (2501.0 + 1.86 * t - 4.186 * ts)
    return max(w, 0.0)


def saturated_temperature_at_enthalpy(h: float, guess_c: float) -> float:
    """T with h_sat(T) = h (J/kg dry air), by Newton from guess_c (to 1e-9 K), with the
    analytic slope of the same h_sat (Magnus e_s, w = 0.622 e_s / (p - e_s))."""
    t = guess_c
    for _ in range(20):
        es = 610.94 * math.exp(17.625 * t / (t + 243.04))
        w = 0.622 * es / (P_ATM - es)
        des = es * 17.625 * 243.04 / (t + 243.04) ** 2
        dw = 0.622 * P_ATM / (P_ATM - es) ** 2 * des
        lat = 2.501e6 + 1860.0 * t
        step = (1006.0 * t + w * lat - h) / (1006.0 + dw * lat + 1860.0 * w)
        t -= step
        if abs(step) < 1e-9:
            break
    return t


def saturated_enthalpy_slope(t_c: float) -> float:
    """d h_sat / dT of saturated moist air at 101.325 kPa, J/(kg K) (central difference).

    h = 1006 T + w (2.501e6 + 1860 T), w = 0.622 e_s / (p - e_s) (ASHRAE Fundamentals ch. 1).
    Used to scale tower approach with wet bulb (Merkel: driving force is enthalpy).
    """

    def h(t: float) -> float:
        es = 610.94 * math.exp(17.625 * t / (t + 243.04))
        w = 0.622 * es / (101325.0 - es)
        return 1006.0 * t + w * (2.501e6 + 1860.0 * t)

    return (h(t_c + 0.5) - h(t_c - 0.5)) / 1.0


def heat_exchanger_fan(
    load_w: float,
    design_w: float,
    approach_d: float,
    exponent: float,
    target_c: float,
    ambient_c: float,
    min_speed: float,
    factor: float = 1.0,
) -> tuple[float, float]:
    """Fan speed and leaving water temperature of a tower or dry cooler holding a setpoint.

    approach(phi) = approach_d * factor * (load/design) * phi^-n. The fan runs the slowest speed
    in [min_speed, 1] whose leaving temperature ambient + approach <= target; if even full speed
    cannot reach the target, phi = 1 and the water leaves warmer.
    """
    a1 = approach_d * factor * max(load_w, 0.0) / design_w  # approach at full fan
    if a1 <= 0.0:
        return min_speed, max(target_c, ambient_c)
    room = target_c - ambient_c
    if room <= a1:
        return 1.0, ambient_c + a1
    phi = (a1 / room) ** (1.0 / exponent)
    if phi < min_speed:
        phi = min_speed
        return phi, ambient_c + a1 * phi ** (-exponent)
    return phi, target_c


class Pump:
    """Variable-speed pump: P = P_d c(x) / c(1), x = Q/Q_d, P_d = dP_d Q_d / eta, c the published
    part-load curve (motor/drive losses included); without one, the bare dP-setpoint law
    P = dP Q / eta, dP = dP_d (s + (1-s) x^2)."""

    def __init__(self, cfg: PumpsConfig, flow_design: float, dp_design: float):
        self.cfg = cfg
        self.flow_design = flow_design
        self.dp_design = dp_design
        self.power_design = dp_design * flow_design / cfg.efficiency
        c = cfg.part_load_curve
        self._curve = None if c is None else part_load_curve(c)

    def power(self, flow: float) -> float:
        """Electric power, W, at volume flow `flow` (m3/s)."""
        q = flow / self.flow_design if self.flow_design > 0 else 0.0
        if self._curve is not None:
            return self.power_design * part_load(self._curve, q)
        pu = self.cfg
        dp = self.dp_design * (pu.static_fraction + (1.0 - pu.static_fraction) * q * q)
        return dp * flow / pu.efficiency
