//! Kubernetes resource quantities (`resource.Quantity`).
//!
//! Written here rather than taken from a crate because the scheduler needs the exact
//! upstream grammar *and* its rounding (values finer than a nano-unit and the milli/unit
//! views both round away from zero), with checked arithmetic on untrusted input; the
//! small crates that parse quantities approximate through `f64`.
//!
//! Grammar (from `k8s.io/apimachinery/pkg/api/resource`):
//!
//! ```text
//! quantity        ::= signedNumber suffix
//! suffix          ::= binarySI | decimalExponent | decimalSI
//! binarySI        ::= Ki | Mi | Gi | Ti | Pi | Ei
//! decimalSI       ::= n | u | m | "" | k | M | G | T | P | E
//! decimalExponent ::= "e" signedNumber | "E" signedNumber
//! number          ::= digits | digits "." digits | digits "." | "." digits
//! ```

use std::fmt;
use std::iter::Sum;
use std::ops::{Add, Sub};
use std::str::FromStr;

use serde::de::{self, Visitor};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// Nano-units per unit.
const NANO: i128 = 1_000_000_000;
/// Largest number of significant digits accepted in a mantissa (keeps i128 arithmetic exact).
const MAX_DIGITS: usize = 36;
/// Largest decimal exponent magnitude accepted (`1e300` is not a resource amount).
const MAX_EXPONENT: i32 = 40;

/// A resource quantity held exactly as a count of nano-units.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Quantity {
    nanos: i128,
}

/// Why a quantity string was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum QuantityError {
    /// The text does not follow the quantity grammar.
    #[error(
        "{input:?} is not a valid quantity: {reason} (examples: \"500m\", \"2\", \"1.5Gi\", \"1e3\")"
    )]
    Invalid {
        /// The text as given.
        input: String,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// The value does not fit the range plinth computes with (about ±10^27).
    #[error("{input:?} is too large to be a resource quantity")]
    TooLarge {
        /// The text as given.
        input: String,
    },
}

impl Quantity {
    /// Zero.
    pub const ZERO: Quantity = Quantity { nanos: 0 };

    /// A quantity of `milli` thousandths of a unit (`250` → `250m`).
    pub const fn from_milli(milli: i64) -> Self {
        Quantity {
            nanos: milli as i128 * 1_000_000,
        }
    }

    /// A quantity of whole units (bytes for memory, count for pods or devices).
    pub const fn from_units(units: i64) -> Self {
        Quantity {
            nanos: units as i128 * NANO,
        }
    }

    /// The exact value in nano-units.
    pub const fn nanos(self) -> i128 {
        self.nanos
    }

    /// The value in thousandths, rounded away from zero (upstream `MilliValue`, what
    /// kube-scheduler uses for CPU).
    pub fn milli_value(self) -> i64 {
        saturate(div_away_from_zero(self.nanos, 1_000_000))
    }

    /// The value in whole units, rounded away from zero (upstream `Value`, what
    /// kube-scheduler uses for memory, storage, pods and extended resources).
    pub fn value(self) -> i64 {
        saturate(div_away_from_zero(self.nanos, NANO))
    }

    /// Whether the quantity is zero.
    pub const fn is_zero(self) -> bool {
        self.nanos == 0
    }

    /// Whether the quantity is below zero.
    pub const fn is_negative(self) -> bool {
        self.nanos < 0
    }

    /// Sum, or `None` on overflow.
    pub fn checked_add(self, other: Quantity) -> Option<Quantity> {
        self.nanos
            .checked_add(other.nanos)
            .map(|nanos| Quantity { nanos })
    }

    /// Sum, clamped at the representable range.
    pub fn saturating_add(self, other: Quantity) -> Quantity {
        Quantity {
            nanos: self.nanos.saturating_add(other.nanos),
        }
    }

    /// Difference, clamped at the representable range.
    pub fn saturating_sub(self, other: Quantity) -> Quantity {
        Quantity {
            nanos: self.nanos.saturating_sub(other.nanos),
        }
    }

    /// The larger of two quantities.
    pub fn max(self, other: Quantity) -> Quantity {
        std::cmp::max(self, other)
    }

    /// Parses the upstream quantity grammar.
    pub fn parse(input: &str) -> Result<Quantity, QuantityError> {
        parse(input)
    }
}

fn saturate(v: i128) -> i64 {
    i64::try_from(v).unwrap_or(if v < 0 { i64::MIN } else { i64::MAX })
}

/// Integer division rounding the magnitude up (away from zero).
fn div_away_from_zero(n: i128, d: i128) -> i128 {
    let q = n / d;
    if n % d == 0 {
        q
    } else if n > 0 {
        q + 1
    } else {
        q - 1
    }
}

enum Multiplier {
    /// Multiply by 10^n.
    Decimal(i32),
    /// Multiply by 2^n.
    Binary(u32),
}

fn parse(input: &str) -> Result<Quantity, QuantityError> {
    let invalid = |reason| QuantityError::Invalid {
        input: input.to_owned(),
        reason,
    };
    let too_large = || QuantityError::TooLarge {
        input: input.to_owned(),
    };
    if input.is_empty() {
        return Err(invalid("it is empty"));
    }
    let bytes = input.as_bytes();
    let mut pos = 0;
    let negative = match bytes.first() {
        Some(b'-') => {
            pos = 1;
            true
        }
        Some(b'+') => {
            pos = 1;
            false
        }
        _ => false,
    };
    let int_start = pos;
    while pos < bytes.len() && bytes[pos].is_ascii_digit() {
        pos += 1;
    }
    let int_digits = &input[int_start..pos];
    let mut frac_digits = "";
    if pos < bytes.len() && bytes[pos] == b'.' {
        pos += 1;
        let frac_start = pos;
        while pos < bytes.len() && bytes[pos].is_ascii_digit() {
            pos += 1;
        }
        frac_digits = &input[frac_start..pos];
    }
    if int_digits.is_empty() && frac_digits.is_empty() {
        return Err(invalid("it does not start with a number"));
    }
    let multiplier = match &input[pos..] {
        "" => Multiplier::Decimal(0),
        "n" => Multiplier::Decimal(-9),
        "u" => Multiplier::Decimal(-6),
        "m" => Multiplier::Decimal(-3),
        "k" => Multiplier::Decimal(3),
        "M" => Multiplier::Decimal(6),
        "G" => Multiplier::Decimal(9),
        "T" => Multiplier::Decimal(12),
        "P" => Multiplier::Decimal(15),
        "E" => Multiplier::Decimal(18),
        "Ki" => Multiplier::Binary(10),
        "Mi" => Multiplier::Binary(20),
        "Gi" => Multiplier::Binary(30),
        "Ti" => Multiplier::Binary(40),
        "Pi" => Multiplier::Binary(50),
        "Ei" => Multiplier::Binary(60),
        suffix if suffix.starts_with(['e', 'E']) => {
            let exp = &suffix[1..];
            let digits = exp.strip_prefix(['+', '-']).unwrap_or(exp);
            if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
                return Err(invalid("the exponent after 'e' must be a whole number"));
            }
            let value: i32 = digits.parse().map_err(|_| too_large())?;
            if value > MAX_EXPONENT {
                return Err(too_large());
            }
            Multiplier::Decimal(if exp.starts_with('-') { -value } else { value })
        }
        _ => {
            return Err(invalid(
                "unknown suffix (use one of n u m k M G T P E Ki Mi Gi Ti Pi Ei, or an exponent)",
            ));
        }
    };

    // Mantissa: all significant digits as one integer, with `scale` digits after the point.
    let frac_trimmed = frac_digits.trim_end_matches('0');
    let mut digits = String::with_capacity(int_digits.len() + frac_trimmed.len());
    digits.push_str(int_digits);
    digits.push_str(frac_trimmed);
    let digits = digits.trim_start_matches('0');
    let scale = i32::try_from(frac_trimmed.len()).map_err(|_| too_large())?;
    if digits.is_empty() {
        return Ok(Quantity::ZERO);
    }
    if digits.len() > MAX_DIGITS {
        return Err(too_large());
    }
    let mut mantissa: i128 = digits.parse().map_err(|_| too_large())?;

    let mut power_of_ten = 9 - scale;
    match multiplier {
        Multiplier::Decimal(e) => power_of_ten += e,
        Multiplier::Binary(b) => {
            mantissa = mantissa.checked_mul(1i128 << b).ok_or_else(too_large)?;
        }
    }
    let magnitude = if power_of_ten >= 0 {
        let factor = 10i128
            .checked_pow(power_of_ten.unsigned_abs())
            .ok_or_else(too_large)?;
        mantissa.checked_mul(factor).ok_or_else(too_large)?
    } else {
        // Finer than a nano-unit: round up, as upstream does.
        match 10i128.checked_pow(power_of_ten.unsigned_abs()) {
            Some(divisor) => div_away_from_zero(mantissa, divisor),
            None => 1,
        }
    };
    Ok(Quantity {
        nanos: if negative { -magnitude } else { magnitude },
    })
}

impl FromStr for Quantity {
    type Err = QuantityError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        parse(s)
    }
}

impl TryFrom<&k8s_openapi::apimachinery::pkg::api::resource::Quantity> for Quantity {
    type Error = QuantityError;
    fn try_from(
        q: &k8s_openapi::apimachinery::pkg::api::resource::Quantity,
    ) -> Result<Self, Self::Error> {
        parse(&q.0)
    }
}

impl From<Quantity> for k8s_openapi::apimachinery::pkg::api::resource::Quantity {
    fn from(q: Quantity) -> Self {
        k8s_openapi::apimachinery::pkg::api::resource::Quantity(q.to_string())
    }
}

impl fmt::Display for Quantity {
    /// Whole units when exact, else milli-units, else nano-units: always re-parses to the
    /// same value.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.nanos % NANO == 0 {
            write!(f, "{}", self.nanos / NANO)
        } else if self.nanos % 1_000_000 == 0 {
            write!(f, "{}m", self.nanos / 1_000_000)
        } else {
            write!(f, "{}n", self.nanos)
        }
    }
}

impl fmt::Debug for Quantity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Quantity({self})")
    }
}

impl Add for Quantity {
    type Output = Quantity;
    /// Saturating: resource sums never wrap.
    fn add(self, rhs: Quantity) -> Quantity {
        self.saturating_add(rhs)
    }
}

impl Sub for Quantity {
    type Output = Quantity;
    /// Saturating: resource differences never wrap.
    fn sub(self, rhs: Quantity) -> Quantity {
        self.saturating_sub(rhs)
    }
}

impl Sum for Quantity {
    fn sum<I: Iterator<Item = Quantity>>(iter: I) -> Quantity {
        iter.fold(Quantity::ZERO, Add::add)
    }
}

impl Serialize for Quantity {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Quantity {
    /// Accepts a string (`"500m"`) or a plain number (`2`, `0.5`), as the API server does.
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct QuantityVisitor;
        impl Visitor<'_> for QuantityVisitor {
            type Value = Quantity;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a quantity such as \"500m\", \"2Gi\" or 3")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Quantity, E> {
                parse(v).map_err(E::custom)
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Quantity, E> {
                Ok(Quantity::from_units(v))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Quantity, E> {
                i64::try_from(v)
                    .map(Quantity::from_units)
                    .map_err(|_| E::custom(format!("{v} is too large to be a resource quantity")))
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<Quantity, E> {
                if !v.is_finite() {
                    return Err(E::custom("a quantity must be a finite number"));
                }
                parse(&v.to_string()).map_err(E::custom)
            }
        }
        deserializer.deserialize_any(QuantityVisitor)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn q(s: &str) -> Quantity {
        s.parse().unwrap()
    }

    #[test]
    fn decimal_and_binary_suffixes() {
        let cases: &[(&str, i128)] = &[
            ("0", 0),
            ("1", NANO),
            ("500m", 500_000_000),
            ("0.5", 500_000_000),
            (".5", 500_000_000),
            ("1.", NANO),
            ("2k", 2_000 * NANO),
            ("1M", 1_000_000 * NANO),
            ("1Ki", 1024 * NANO),
            ("1.5Gi", 1_610_612_736 * NANO),
            ("1e3", 1_000 * NANO),
            ("1E3", 1_000 * NANO),
            ("1e-3", 1_000_000),
            ("1E", 1_000_000_000_000_000_000 * NANO),
            ("100n", 100),
            ("3u", 3_000),
            ("+4", 4 * NANO),
            ("-4m", -4_000_000),
            ("0.0000000001", 1), // finer than nano rounds up
            ("1Ei", (1i128 << 60) * NANO),
        ];
        for (input, nanos) in cases {
            assert_eq!(q(input).nanos(), *nanos, "{input}");
        }
    }

    #[test]
    fn rejects_bad_text_with_reason() {
        for bad in [
            "", "m", "1.2.3", "1 Gi", "1gi", "1KiB", "1e", "1e+", "abc", "--1", "1e1.5",
        ] {
            let err = Quantity::parse(bad).unwrap_err();
            assert!(err.to_string().contains("valid quantity"), "{bad}: {err}");
        }
        assert!(matches!(
            Quantity::parse("1e400"),
            Err(QuantityError::TooLarge { .. })
        ));
        assert!(matches!(
            Quantity::parse("99999999999999999999999999999999999999999Ei"),
            Err(QuantityError::TooLarge { .. })
        ));
    }

    #[test]
    fn scheduler_views_round_away_from_zero() {
        assert_eq!(q("1").milli_value(), 1000);
        assert_eq!(q("0.1m").milli_value(), 1);
        assert_eq!(q("1500m").value(), 2);
        assert_eq!(q("128974848").value(), 128_974_848);
        assert_eq!(q("129e6").value(), 129_000_000);
        assert_eq!(q("123Mi").value(), 128_974_848);
        assert_eq!(q("-1500m").value(), -2);
    }

    #[test]
    fn deserializes_strings_and_numbers() {
        let v: Vec<Quantity> = serde_json::from_str(r#"["250m", 2, 0.5]"#).unwrap();
        assert_eq!(
            v,
            vec![
                q("250m"),
                Quantity::from_units(2),
                Quantity::from_milli(500)
            ]
        );
        assert!(serde_json::from_str::<Quantity>(r#""lots""#).is_err());
    }

    proptest! {
        #[test]
        fn display_round_trips(nanos in -(10i128.pow(27))..10i128.pow(27)) {
            let original = Quantity { nanos };
            prop_assert_eq!(q(&original.to_string()), original);
        }

        #[test]
        fn milli_suffix_matches_from_milli(m in -1_000_000_000i64..1_000_000_000) {
            prop_assert_eq!(q(&format!("{m}m")), Quantity::from_milli(m));
            prop_assert_eq!(Quantity::from_milli(m).milli_value(), m);
        }

        #[test]
        fn parser_never_panics(s in "\\PC{0,40}") {
            let _ = Quantity::parse(&s);
        }

        #[test]
        fn order_is_numeric(a in 0i64..1_000_000, b in 0i64..1_000_000) {
            prop_assert_eq!(Quantity::from_milli(a).cmp(&Quantity::from_milli(b)), a.cmp(&b));
        }
    }
}
