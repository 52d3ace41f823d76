//! The one-pass reader of well-formed lines against the general path, the block reader of
//! `verify_file` against `verify_jsonl`, and the parallel line check against the serial one.

use super::*;
use crate::trace::chain::{Chain, PayloadText, UnhashedFieldsNoChain};
use proptest::prelude::*;
use serde_json::{json, Value};

/// Interleaved chains of `per` events each; payloads with escapes, non-ASCII text, long
/// strings, nesting and numbers; one session id with an escape (general path only).
fn sample(sessions: usize, per: usize) -> Vec<u8> {
    let ids: Vec<String> = (0..sessions)
        .map(|i| match i {
            1 => format!("s\"{i}"),
            _ => format!("session-{i}"),
        })
        .collect();
    let mut chains = vec![Chain::default(); sessions];
    let (mut scratch, mut line, mut out) = (String::new(), String::new(), Vec::new());
    for k in 0..per {
        for (i, id) in ids.iter().enumerate() {
            let payload: Value = json!({
                "k": k, "x": 1.5e-7, "neg": -3, "big": 1e21,
                "note": "caf\u{e9} \u{1} \"quoted\" and a longer run of plain text",
                "euro": "\u{20ac}\u{20ac}\u{20ac}\u{20ac}\u{20ac}\u{20ac}",
                "nested": [[{"a": [true, false, null]}], {"\u{e9}": 1, "b": "\\"}],
            });
            let event_type = match k {
                0 => "session.started",
                _ if k + 1 == per => "session.ended",
                _ => "policy.evaluated",
            };
            line.clear();
            chains[i].append(
                UnhashedFieldsNoChain {
                    event_id: &format!("e-{i}-{k}"),
                    event_type,
                    parent_span_id: (k % 2 == 1).then_some("root"),
                    payload: PayloadText::Value(&payload),
                    session_id: id,
                    span_id: "span",
                    timestamp_us: 1_764_072_000_123_456 + (k * 1_000) as i64,
                    trace_id: &format!("trace-{id}"),
                },
                &mut scratch,
                &mut line,
            );
            out.extend_from_slice(line.as_bytes());
            out.push(b'\n');
        }
    }
    out
}

/// Writes into `line` the hash of its bytes, as the chain would have (lines too short to hold
/// one are left alone): a changed line then fails for what it is, not for its hash.
fn rehash(line: &mut [u8]) {
    if line.len() > HASH_PREFIX_LEN {
        let mut h = blake3::Hasher::new();
        h.update(b"{");
        h.update(&line[HASH_PREFIX_LEN..]);
        let hex = h.finalize().to_hex();
        line[15..79].copy_from_slice(hex.as_bytes());
    }
}

fn lines(bytes: &[u8]) -> Vec<&[u8]> {
    bytes
        .strip_suffix(b"\n")
        .unwrap_or(bytes)
        .split(|&b| b == b'\n')
        .collect()
}

#[test]
fn well_formed_lines_take_the_one_pass_reader() {
    let bytes = sample(3, 4);
    let r = verify_jsonl(&bytes);
    assert!(r.ok, "{r:?}");
    for (n, line) in lines(&bytes).into_iter().enumerate() {
        let fast = check_well_formed(line);
        // Session 1's id has an escape: the reader leaves it to the general path.
        assert_eq!(fast.is_some(), n % 3 != 1, "line {n}");
        if let Some(fast) = fast {
            assert_eq!(fast, check_line_general(line, true));
        }
    }
}

#[test]
fn deep_payloads_and_long_sequences_read_the_same_both_ways() {
    let good = String::from_utf8(lines(&sample(1, 1))[0].to_vec()).expect("utf-8");
    let mut variants = Vec::new();
    for depth in [60, 64, 65, 100, 126, 127, 128, 129, 200] {
        let deep = format!("{}1{}", "[".repeat(depth), "]".repeat(depth));
        variants.push(good.replacen("\"payload\":{", &format!("\"payload\":{{\"a\":{deep},"), 1));
    }
    for seq in [
        "1",
        "01",
        "-1",
        "1.0",
        "1e3",
        "999999999999999",
        "1000000000000000",
    ] {
        variants.push(good.replacen("\"sequence\":0", &format!("\"sequence\":{seq}"), 1));
    }
    variants.push(good.replacen("\"trace_version\":\"1.0\"", "\"trace_version\":\"1.1\"", 1));
    variants.push(good.replacen("\"session.started\"", "\"session.begun\"", 1));
    variants.push(good.replacen("\"parent_span_id\":null", "\"parent_span_id\":\"p\"", 1));
    variants.push(good.replacen("\"parent_span_id\":null", "\"parent_span_id\":1", 1));
    variants.push(good.replacen(".123456Z", ".123456z", 1));
    let mut fast = 0;
    for v in &mut variants {
        assert_ne!(v, &good);
        let mut bytes = v.clone().into_bytes();
        rehash(&mut bytes);
        let general = check_line_general(&bytes, true);
        fast += usize::from(check_well_formed(&bytes).is_some());
        assert_eq!(check_line(&bytes, true), general, "{v}");
    }
    // Depth 60, sequences 1 and 999999999999999, a parent span; deeper payloads (which the
    // general path may still take) and other forms go the general way.
    assert_eq!(fast, 4);
}

#[test]
fn parallel_line_checks_match_the_serial_ones() {
    let mut bytes = sample(4, 400);
    for at in [100usize, 5_000, 77_777, 150_000] {
        let at = at % bytes.len();
        bytes[at] ^= 0x01;
    }
    let ls: Vec<(&[u8], bool)> = lines(&bytes).into_iter().map(|l| (l, true)).collect();
    assert!(ls.len() >= 1024, "enough lines for the parallel path");
    let serial: Vec<LineCheck<'_>> = ls.iter().map(|(l, c)| check_line(l, *c)).collect();
    assert!(serial.iter().any(|c| matches!(c, LineCheck::Bad { .. })));
    assert_eq!(check_all(&ls), serial);
}

#[test]
fn reading_in_blocks_matches_verifying_in_memory() {
    let good = sample(3, 6);
    let mut tampered = good.clone();
    tampered[good.len() / 2] ^= 0x20;
    let mut torn = good.clone();
    torn.truncate(good.len() - 10);
    let mut blank = good.clone();
    blank.splice(200..200, b"\n\n".iter().copied());
    for bytes in [good, tampered, torn, blank, Vec::new(), b"x".to_vec()] {
        let expected = verify_jsonl(&bytes);
        for block in [1, 7, 100, 4096, 1 << 20] {
            let got = verify_read(&mut &bytes[..], VerifyOptions::default(), block)
                .expect("in-memory read");
            assert_eq!(got, expected, "block {block}");
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]
    #[test]
    fn the_one_pass_reader_agrees_with_the_general_path(
        which in any::<prop::sample::Index>(),
        pos in any::<prop::sample::Index>(),
        byte in any::<u8>(),
        edit in 0u8..3,
    ) {
        thread_local! { static SAMPLE: Vec<u8> = sample(3, 4); }
        SAMPLE.with(|s| {
            let all = lines(s);
            let mut line = all[which.index(all.len())].to_vec();
            let p = pos.index(line.len());
            match edit {
                0 => line[p] = byte,
                1 => line.insert(p, byte),
                _ => {
                    line.remove(p);
                }
            }
            if byte % 2 == 0 {
                rehash(&mut line);
            }
            prop_assert_eq!(check_line(&line, true), check_line_general(&line, true));
            Ok(())
        })?;
    }
}

#[test]
fn hex_hashes_are_64_lowercase_digits() {
    let h = blake3::hash(b"x");
    let hex = h.to_hex();
    assert_eq!(parse_hex32(hex.as_bytes()), Some(*h.as_bytes()));
    for (at, c) in [
        (0, b'A'),
        (63, b'F'),
        (10, b'g'),
        (5, b'/'),
        (7, b':'),
        (1, 0xff),
    ] {
        let mut bad = hex.as_bytes().to_vec();
        bad[at] = c;
        assert_eq!(parse_hex32(&bad), None, "{at} {c}");
    }
    assert_eq!(parse_hex32(&hex.as_bytes()[..63]), None);
    assert_eq!(parse_hex32(b""), None);
}
