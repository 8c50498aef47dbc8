//! Times and tables for people.

use time::format_description::well_known::Rfc3339;
use time::macros::format_description;
use time::{OffsetDateTime, PrimitiveDateTime};
use warden_auth::UnixTime;
/// `3h 12m`: the formatter the inspector's warnings use too.
pub use warden_auth::inspect::span;

/// First second of the year 10000: RFC 3339 has four-digit years.
const YEAR_10000: i64 = 253_402_300_800;

/// `2026-05-01T12:00:00Z`, or the raw number when it has no RFC 3339 form.
pub fn rfc3339(t: UnixTime) -> String {
    (0..YEAR_10000)
        .contains(&t)
        .then(|| {
            OffsetDateTime::from_unix_timestamp(t)
                .ok()?
                .format(&Rfc3339)
                .ok()
        })
        .flatten()
        .unwrap_or_else(|| format!("{t} (out of range)"))
}

/// "expires in 3h 12m" / "expired 5m ago" style phrases.
pub fn relative(t: UnixTime, now: UnixTime, future: &str, past: &str) -> String {
    let d = t.saturating_sub(now);
    if d > 0 {
        format!("{future} in {}", span(d))
    } else if d == 0 {
        format!("{past} just now")
    } else {
        format!("{past} {} ago", span(d))
    }
}

/// Parses an RFC 3339 instant from 1970 on: `T`, `t` or a space between date
/// and time, optional fractions of a second, and `Z`, a `±HH:MM` offset, or
/// none meaning UTC.
pub fn parse_rfc3339(text: &str) -> Result<UnixTime, String> {
    let t = text.trim();
    let bad = || format!("`{t}` is not an RFC 3339 time such as 2030-01-31T18:00:00Z");
    let with_offset = format_description!(
        "[year]-[month]-[day][first [T][t][ ]][hour]:[minute]:[second][optional [.[subsecond]]][offset_hour sign:mandatory]:[offset_minute]"
    );
    let utc = format_description!(
        "[year]-[month]-[day][first [T][t][ ]][hour]:[minute]:[second][optional [.[subsecond]]][first [Z][z][]]"
    );
    let at = match OffsetDateTime::parse(t, with_offset) {
        // RFC 3339 offsets are within a day.
        Ok(at) if at.offset().whole_hours().abs() <= 23 => at,
        Ok(_) => return Err(bad()),
        Err(_) => PrimitiveDateTime::parse(t, utc)
            .map_err(|_| bad())?
            .assume_utc(),
    };
    Some(at.unix_timestamp())
        .filter(|secs| *secs >= 0)
        .ok_or_else(bad)
}

/// A plain text table: a header row and left-aligned columns.
#[derive(Debug)]
pub struct Table {
    rows: Vec<Vec<String>>,
}

impl Table {
    pub fn new<const N: usize>(header: [&str; N]) -> Table {
        Table {
            rows: vec![header.iter().map(|h| h.to_string()).collect()],
        }
    }

    pub fn row<const N: usize>(&mut self, cells: [String; N]) {
        self.rows
            .push(cells.into_iter().map(|c| sanitize(&c)).collect());
    }

    pub fn render(&self) -> String {
        let cols = self.rows.iter().map(Vec::len).max().unwrap_or(0);
        let widths: Vec<usize> = (0..cols)
            .map(|i| {
                self.rows
                    .iter()
                    .filter_map(|r| r.get(i))
                    .map(|c| c.chars().count())
                    .max()
                    .unwrap_or(0)
            })
            .collect();
        let mut out = String::new();
        for row in &self.rows {
            let mut line = String::new();
            for (i, cell) in row.iter().enumerate() {
                if i + 1 == row.len() {
                    line.push_str(cell);
                } else {
                    let pad = widths[i].saturating_sub(cell.chars().count());
                    line.push_str(cell);
                    line.push_str(&" ".repeat(pad + 2));
                }
            }
            out.push_str(line.trim_end());
            out.push('\n');
        }
        out
    }

    pub fn print(&self) {
        use std::io::Write;
        let _ = std::io::stdout().lock().write_all(self.render().as_bytes());
    }
}

/// Values come from clients (device labels, user agents): no control
/// characters reach the terminal.
pub fn sanitize(s: &str) -> String {
    s.chars()
        .map(|c| if c.is_control() { '?' } else { c })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_format_and_parse() {
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00Z");
        assert_eq!(rfc3339(1_800_000_000), "2027-01-15T08:00:00Z");
        assert!(rfc3339(i64::MAX).contains("out of range"));
        assert!(rfc3339(-1).contains("out of range"));
        assert_eq!(
            parse_rfc3339("2027-01-15T08:00:00Z").unwrap(),
            1_800_000_000
        );
        assert_eq!(
            parse_rfc3339("2027-01-15T10:00:00+02:00").unwrap(),
            1_800_000_000
        );
        assert_eq!(
            parse_rfc3339("2027-01-15T03:00:00-05:00").unwrap(),
            1_800_000_000
        );
        assert_eq!(parse_rfc3339("2027-01-15T08:00:00").unwrap(), 1_800_000_000);
        assert!(parse_rfc3339("tomorrow").is_err());
        assert!(parse_rfc3339("2027-01-15T08:00:00+2:00").is_err());
        assert_eq!(
            parse_rfc3339(" 2027-01-15 08:00:00.75z ").unwrap(),
            1_800_000_000
        );
        for bad in [
            "2027-02-30T00:00:00Z",
            "2027-01-15T08:00:00+24:00",
            "1969-12-31T23:59:59Z",
            "2027-01-15T08:00Z",
        ] {
            assert!(parse_rfc3339(bad).is_err(), "{bad}");
        }
        assert_eq!(rfc3339(YEAR_10000 - 1), "9999-12-31T23:59:59Z");
        assert!(rfc3339(YEAR_10000).contains("out of range"));
    }

    #[test]
    fn spans_use_two_units() {
        assert_eq!(span(0), "0s");
        assert_eq!(span(59), "59s");
        assert_eq!(span(3 * 3600 + 12 * 60 + 5), "3h 12m");
        assert_eq!(span(86_400), "1d");
        assert_eq!(span(86_400 + 5), "1d");
        assert_eq!(span(-300), "5m");
        assert_eq!(relative(100, 0, "expires", "expired"), "expires in 1m 40s");
        assert_eq!(relative(0, 300, "expires", "expired"), "expired 5m ago");
    }

    #[test]
    fn tables_align_and_strip_control_characters() {
        let mut t = Table::new(["A", "BB"]);
        t.row(["long value".into(), "x\u{1b}[31m".into()]);
        assert_eq!(t.render(), "A           BB\nlong value  x?[31m\n");
    }
}
