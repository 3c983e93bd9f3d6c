//! Go's `%q` for strings (`strconv.Quote`), which upstream uses for annotation values,
//! label values and object names in its messages.

use std::fmt::Write as _;

use super::printable::PRINTABLE;

/// `s` in double quotes with Go's escapes: `\"`, `\\`, `\a \b \f \n \r \t \v`, `\xHH` for
/// other ASCII controls, `\uHHHH`/`\UHHHHHHHH` for non-printable non-ASCII characters;
/// printable characters (Go's `strconv.IsPrint`) stay as they are.
pub fn go_quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\u{7}' => out.push_str("\\a"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{b}' => out.push_str("\\v"),
            ' '..='~' => out.push(c),
            c if c.is_ascii() => {
                let _ = write!(out, "\\x{:02x}", u32::from(c));
            }
            c if is_printable(c) => out.push(c),
            c if u32::from(c) < 0x1_0000 => {
                let _ = write!(out, "\\u{:04x}", u32::from(c));
            }
            c => {
                let _ = write!(out, "\\U{:08x}", u32::from(c));
            }
        }
    }
    out.push('"');
    out
}

/// Go's `strconv.IsPrint` for a character at or above U+0080.
fn is_printable(c: char) -> bool {
    let c = u32::from(c);
    PRINTABLE
        .binary_search_by(|&(lo, hi)| {
            if hi < c {
                std::cmp::Ordering::Less
            } else if lo > c {
                std::cmp::Ordering::Greater
            } else {
                std::cmp::Ordering::Equal
            }
        })
        .is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quotes_like_go() {
        // Right-hand sides printed by Go 1.26's fmt `%q`.
        let cases = [
            ("bad\"qé\u{1}", r#""bad\"qé\x01""#),
            ("\u{ad}", r#""\u00ad""#),
            ("\u{2028}", r#""\u2028""#),
            ("😀", "\"😀\""),
            ("\u{e0001}", r#""\U000e0001""#),
            ("\u{7f}", r#""\x7f""#),
            ("\u{7}\u{8}\u{c}\n\r\t\u{b}", r#""\a\b\f\n\r\t\v""#),
            ("a\\b", r#""a\\b""#),
            ("\u{200b}", r#""\u200b""#),
            ("\u{a0}", r#""\u00a0""#),
            (" ", r#"" ""#),
            ("\u{3000}", r#""\u3000""#),
            ("\u{10ffff}", r#""\U0010ffff""#),
            ("\u{fffd}", "\"\u{fffd}\""),
            ("\u{378}", r#""\u0378""#),
            ("", r#""""#),
        ];
        for (input, want) in cases {
            assert_eq!(go_quote(input), want, "{input:?}");
        }
    }

    #[test]
    fn table_is_sorted_and_disjoint() {
        for w in PRINTABLE.windows(2) {
            assert!(w[0].0 <= w[0].1 && w[0].1 < w[1].0, "{w:?}");
        }
    }
}
