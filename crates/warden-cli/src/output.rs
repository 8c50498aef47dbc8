//! Times and tables for people.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use warden_auth::UnixTime;

/// First second of the year 10000: RFC 3339 has four-digit years.
const YEAR_10000: i64 = 253_402_300_800;

/// `2026-05-01T12:00:00Z`, or the raw number when it has no RFC 3339 form.
pub fn rfc3339(t: UnixTime) -> String {
    if (0..YEAR_10000).contains(&t) {
        let st = UNIX_EPOCH + Duration::from_secs(t.unsigned_abs());
        humantime::format_rfc3339_seconds(st).to_string()
    } else {
        format!("{t} (out of range)")
    }
}

/// `3h 12m`: the two largest units of a duration in seconds.
pub fn span(secs: i64) -> String {
    let s = secs.unsigned_abs();
    let units = [
        (365 * 86_400, "y"),
        (86_400, "d"),
        (3_600, "h"),
        (60, "m"),
        (1, "s"),
    ];
    let mut parts = Vec::new();
    let mut rest = s;
    for (size, name) in units {
        if rest >= size {
            parts.push(format!("{}{name}", rest / size));
            rest %= size;
        } else if !parts.is_empty() {
            // Keep the two units adjacent: "1d 0h", not "1d 5s".
            parts.push(format!("0{name}"));
        }
        if parts.len() == 2 {
            break;
        }
    }
    if parts.is_empty() {
        return "0s".into();
    }
    if parts.len() == 2 && parts[1].starts_with('0') {
        parts.pop();
    }
    parts.join(" ")
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

/// Parses an RFC 3339 instant (`Z`, a `±HH:MM` offset, or none meaning UTC).
pub fn parse_rfc3339(text: &str) -> Result<UnixTime, String> {
    let t = text.trim();
    let bad = || format!("`{t}` is not an RFC 3339 time such as 2030-01-31T18:00:00Z");
    let (base, offset) = split_offset(t).ok_or_else(bad)?;
    let st = humantime::parse_rfc3339_weak(base).map_err(|_| bad())?;
    let secs = st
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_err(|_| bad())?
        .as_secs();
    let secs = i64::try_from(secs).map_err(|_| bad())?;
    Ok(secs - offset)
}

/// Splits a trailing `±HH:MM` offset (seconds east of UTC) from a timestamp.
fn split_offset(t: &str) -> Option<(&str, i64)> {
    if let Some(base) = t.strip_suffix('Z').or_else(|| t.strip_suffix('z')) {
        return Some((base, 0));
    }
    let bytes = t.as_bytes();
    if bytes.len() > 6 {
        let at = bytes.len() - 6;
        let sign = match bytes[at] {
            b'+' => 1,
            b'-' => -1,
            _ => return Some((t, 0)),
        };
        let tail = &t[at + 1..];
        let (h, m) = tail.split_once(':')?;
        if h.len() != 2 || m.len() != 2 {
            return None;
        }
        let h: i64 = h.parse().ok()?;
        let m: i64 = m.parse().ok()?;
        if h > 23 || m > 59 {
            return None;
        }
        return Some((&t[..at], sign * (h * 3600 + m * 60)));
    }
    Some((t, 0))
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
