//! RFC 3339 timestamps without a date-time dependency: capture times are
//! always UTC nanoseconds since the epoch.

/// Formats `ts_ns` as `2026-11-25T12:59:14.123456Z` (nanoseconds shown only
/// when the sub-microsecond digits are not zero).
///
/// Digits are written by hand: reports carry two of these per tunnel, and
/// `format!` made them a visible part of rendering a large report.
pub fn rfc3339(ts_ns: u64) -> String {
    let secs = ts_ns / 1_000_000_000;
    let nanos = ts_ns % 1_000_000_000;
    let days = (secs / 86_400) as i64;
    let rem = secs % 86_400;
    let (y, m, d) = civil_from_days(days);
    let mut out = Vec::with_capacity(32);
    digits(&mut out, y.clamp(0, 9999) as u64, 4);
    out.push(b'-');
    digits(&mut out, u64::from(m), 2);
    out.push(b'-');
    digits(&mut out, u64::from(d), 2);
    out.push(b'T');
    digits(&mut out, rem / 3600, 2);
    out.push(b':');
    digits(&mut out, rem % 3600 / 60, 2);
    out.push(b':');
    digits(&mut out, rem % 60, 2);
    out.push(b'.');
    if nanos % 1000 == 0 {
        digits(&mut out, nanos / 1000, 6);
    } else {
        digits(&mut out, nanos, 9);
    }
    out.push(b'Z');
    // Only ASCII digits and punctuation were written.
    String::from_utf8(out).unwrap_or_default()
}

/// Appends the last `width` decimal digits of `n`, zero-padded.
fn digits(out: &mut Vec<u8>, mut n: u64, width: usize) {
    let start = out.len();
    out.resize(start + width, b'0');
    for slot in out[start..].iter_mut().rev() {
        *slot = b'0' + (n % 10) as u8;
        n /= 10;
    }
}

/// Days since 1970-01-01 → proleptic Gregorian (year, month, day).
/// The era arithmetic is Howard Hinnant's published algorithm.
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

/// Wall-clock time in nanoseconds since the Unix epoch.
pub fn now_ns() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64)
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::rfc3339;

    #[test]
    fn epoch_and_known_dates() {
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00.000000Z");
        // 2000-02-29 12:34:56.789 UTC (a leap day)
        assert_eq!(
            rfc3339(951_827_696_789_000_000),
            "2000-02-29T12:34:56.789000Z"
        );
        assert_eq!(
            rfc3339(1_764_075_554_000_000_001),
            "2025-11-25T12:59:14.000000001Z"
        );
        // The largest time a u64 of nanoseconds holds.
        assert_eq!(rfc3339(u64::MAX), "2554-07-21T23:34:33.709551615Z");
    }
}
