//! Go's `time.ParseDuration` grammar, which cert-manager uses for `duration` and
//! `renewBefore`: a sequence of decimal numbers with units (`ns`, `us`, `µs`, `ms`, `s`,
//! `m`, `h`), like `8760h` or `1h30m`. Written by hand: the grammar is a dozen lines and
//! the crates that parse "human" durations accept other spellings (`1 day`) that
//! cert-manager would refuse.

/// Nanoseconds of a Go duration, or why it is not one. Signs are refused (a negative
/// validity makes no sense here).
pub fn parse_nanos(text: &str) -> Result<u128, String> {
    if text.is_empty() {
        return Err("is empty".into());
    }
    if text == "0" {
        return Ok(0);
    }
    let mut rest = text;
    let mut total: u128 = 0;
    while !rest.is_empty() {
        let digits = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(rest.len());
        let (number, tail) = rest.split_at(digits);
        if number.is_empty() || number == "." {
            return Err(format!(
                "{text:?} is not a Go duration (like 8760h or 1h30m)"
            ));
        }
        let unit_len = tail
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(tail.len());
        let (unit, after) = tail.split_at(unit_len);
        let scale: u128 = match unit {
            "ns" => 1,
            "us" | "µs" | "μs" => 1_000,
            "ms" => 1_000_000,
            "s" => 1_000_000_000,
            "m" => 60_000_000_000,
            "h" => 3_600_000_000_000,
            "" => return Err(format!("{text:?}: missing unit after {number}")),
            other => return Err(format!("{text:?}: unknown unit {other:?}")),
        };
        let (whole, frac) = number.split_once('.').unwrap_or((number, ""));
        let whole: u128 = if whole.is_empty() {
            0
        } else {
            whole
                .parse()
                .map_err(|_| format!("{text:?}: {number} is too large"))?
        };
        let mut part = whole
            .checked_mul(scale)
            .ok_or_else(|| format!("{text:?} is too large"))?;
        let mut div = scale;
        for d in frac.chars() {
            div /= 10;
            let digit = u128::from(
                d.to_digit(10)
                    .ok_or_else(|| format!("{text:?} is malformed"))?,
            );
            part += digit * div;
        }
        total = total
            .checked_add(part)
            .ok_or_else(|| format!("{text:?} is too large"))?;
        rest = after;
    }
    Ok(total)
}

#[cfg(test)]
mod tests {
    use super::parse_nanos;

    const H: u128 = 3_600_000_000_000;

    #[test]
    fn go_durations() {
        assert_eq!(parse_nanos("8760h"), Ok(8760 * H));
        assert_eq!(parse_nanos("1h30m"), Ok(H + H / 2));
        assert_eq!(parse_nanos("1.5h"), Ok(H + H / 2));
        assert_eq!(parse_nanos("2160h0m0s"), Ok(2160 * H));
        assert_eq!(parse_nanos("0"), Ok(0));
        assert!(parse_nanos("").is_err());
        assert!(parse_nanos("1d").is_err());
        assert!(parse_nanos("10").is_err());
        assert!(parse_nanos("-1h").is_err());
        assert!(parse_nanos("h").is_err());
    }
}
