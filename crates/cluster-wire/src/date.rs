//! JavaScript `Date` values: notepack's timestamp extensions and
//! `Date.prototype.toJSON`.
//!
//! notepack 3 encodes a `Date` as the msgpack timestamp extension (type
//! `-1`): timestamp 32 (`d6 ff`) when it is a whole second in
//! `0..2^32`, timestamp 64 (`d7 ff`) up to `2^34 - 1` seconds, otherwise
//! timestamp 96 (`c7 0c ff`). Its decoder also accepts a legacy `d7 00`
//! form (milliseconds as a signed 64-bit integer).
//!
//! # Invariants
//! - Every time value passes through [`time_clip`] (ECMAScript `TimeClip`),
//!   exactly as `new Date(t)` in Node: integral milliseconds within
//!   ±8.64e15, otherwise NaN. The arithmetic is the same sequence of f64
//!   operations as notepack's, so decoded values are bit-identical.
//! - An invalid date (NaN) encodes as notepack does: timestamp 96 with all
//!   twelve payload bytes zero.

/// Largest absolute time value of a valid `Date`, in milliseconds.
const MAX_TIME: f64 = 8.64e15;
const TWO_32: f64 = 4_294_967_296.0;
const TS32_MAX_SEC: f64 = 4_294_967_295.0;
const TS64_MAX_SEC: f64 = 17_179_869_183.0;

/// ECMAScript `TimeClip`: NaN outside ±8.64e15, else truncated (no `-0`).
pub(crate) fn time_clip(t: f64) -> f64 {
    if !t.is_finite() || t.abs() > MAX_TIME {
        f64::NAN
    } else {
        t.trunc() + 0.0
    }
}

/// `d6 ff <u32 seconds>`.
pub(crate) fn from_ts32(secs: u32) -> f64 {
    time_clip(f64::from(secs) * 1e3)
}

/// `d7 ff <30-bit ns | 34-bit seconds>`, as notepack reads it.
pub(crate) fn from_ts64(hi: u32, lo: u32) -> f64 {
    let s = f64::from(hi & 0x3) * TWO_32 + f64::from(lo);
    time_clip(s * 1e3 + f64::from(hi >> 2) / 1e6)
}

/// Legacy `d7 00 <i64 milliseconds>`.
pub(crate) fn from_legacy_ms(hi: i32, lo: u32) -> f64 {
    time_clip(f64::from(hi) * TWO_32 + f64::from(lo))
}

/// `c7 0c ff <u32 ns> <i64 seconds>`.
pub(crate) fn from_ts96(ns: u32, hi: i32, lo: u32) -> f64 {
    time_clip((f64::from(hi) * TWO_32 + f64::from(lo)) * 1e3 + f64::from(ns) / 1e6)
}

/// Appends notepack's encoding of the date `t` (clipped first).
pub(crate) fn encode(t: f64, out: &mut Vec<u8>) {
    let t = time_clip(t);
    let s = (t / 1e3).floor();
    let ns = (t - s * 1e3) * 1e6;
    if s >= 0.0 && ns >= 0.0 && s <= TS64_MAX_SEC {
        // `t` is integral, so `ns` is an exact multiple of 1e6 below 1e9
        // and `s` an exact integer: the casts are lossless.
        if ns == 0.0 && s <= TS32_MAX_SEC {
            out.extend_from_slice(&[0xd6, 0xff]);
            out.extend_from_slice(&(s as u32).to_be_bytes());
        } else {
            out.extend_from_slice(&[0xd7, 0xff]);
            out.extend_from_slice(&(((ns as u64) << 34) | s as u64).to_be_bytes());
        }
    } else {
        out.extend_from_slice(&[0xc7, 0x0c, 0xff]);
        // NaN casts to 0, matching notepack's `NaN >> 24 === 0`.
        out.extend_from_slice(&(ns as u32).to_be_bytes());
        out.extend_from_slice(&(s as i64).to_be_bytes());
    }
}

/// `Date.prototype.toJSON`: the ISO 8601 string, or `None` (JSON `null`)
/// for an invalid date. Years outside `0..=9999` use the expanded
/// `±YYYYYY` form, as `toISOString` does.
pub(crate) fn to_iso_string(t: f64) -> Option<String> {
    let t = time_clip(t);
    if t.is_nan() {
        return None;
    }
    let ms = t as i64; // exact: |t| <= 8.64e15
    let days = ms.div_euclid(86_400_000);
    let in_day = ms.rem_euclid(86_400_000);
    let (y, m, d) = civil_from_days(days);
    let year = if (0..=9999).contains(&y) {
        format!("{y:04}")
    } else if y < 0 {
        format!("-{:06}", -y)
    } else {
        format!("+{y:06}")
    };
    Some(format!(
        "{year}-{m:02}-{d:02}T{:02}:{:02}:{:02}.{:03}Z",
        in_day / 3_600_000,
        in_day / 60_000 % 60,
        in_day / 1000 % 60,
        in_day % 1000
    ))
}

/// Proleptic Gregorian (year, month, day) of a day count since 1970-01-01
/// (H. Hinnant's `civil_from_days`).
fn civil_from_days(days: i64) -> (i64, i64, i64) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn enc(t: f64) -> Vec<u8> {
        let mut v = Vec::new();
        encode(t, &mut v);
        v
    }

    #[test]
    fn iso_strings_match_javascript() {
        assert_eq!(to_iso_string(0.0).unwrap(), "1970-01-01T00:00:00.000Z");
        assert_eq!(
            to_iso_string(1_795_784_488_597.0).unwrap(),
            "2026-11-27T13:01:28.597Z"
        );
        assert_eq!(to_iso_string(-1.0).unwrap(), "1969-12-31T23:59:59.999Z");
        assert_eq!(
            to_iso_string(951_782_400_000.0).unwrap(),
            "2000-02-29T00:00:00.000Z"
        );
        assert_eq!(
            to_iso_string(8.64e15).unwrap(),
            "+275760-09-13T00:00:00.000Z"
        );
        assert_eq!(
            to_iso_string(-8.64e15).unwrap(),
            "-271821-04-20T00:00:00.000Z"
        );
        assert_eq!(
            to_iso_string(-62_198_755_200_000.0).unwrap(),
            "-000001-01-01T00:00:00.000Z"
        );
        assert_eq!(to_iso_string(f64::NAN), None);
        assert_eq!(to_iso_string(8.64e15 + 1.0), None);
    }

    #[test]
    fn encodings_round_trip_through_the_decoders() {
        assert_eq!(enc(1000.0), [0xd6, 0xff, 0, 0, 0, 1]);
        let b = enc(1500.0);
        assert_eq!(b[..2], [0xd7, 0xff]);
        let hi = u32::from_be_bytes([b[2], b[3], b[4], b[5]]);
        let lo = u32::from_be_bytes([b[6], b[7], b[8], b[9]]);
        assert_eq!(from_ts64(hi, lo), 1500.0);
        let b = enc(-1500.0);
        assert_eq!(b[..3], [0xc7, 0x0c, 0xff]);
        let ns = u32::from_be_bytes([b[3], b[4], b[5], b[6]]);
        let hi = i32::from_be_bytes([b[7], b[8], b[9], b[10]]);
        let lo = u32::from_be_bytes([b[11], b[12], b[13], b[14]]);
        assert_eq!(from_ts96(ns, hi, lo), -1500.0);
        assert_eq!(
            enc(f64::NAN),
            [0xc7, 0x0c, 0xff, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]
        );
        assert_eq!(from_legacy_ms(-1, u32::MAX), -1.0);
        assert_eq!(from_ts32(u32::MAX), 4_294_967_295_000.0);
    }
}
