//! The envelope decoder on any headers and value a Kafka message can carry. The input is
//! `name:value` header lines, a blank line, then the value, so the seeds (real envelopes around
//! the shared fixtures, written by `fuzz/seed.sh`) read like the messages ingress produces.

#![no_main]

use contracts::Envelope;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let (head, payload) = match data.windows(2).position(|pair| pair == b"\n\n") {
        Some(at) => (&data[..at], &data[at + 2..]),
        None => (data, &[][..]),
    };
    // Kafka header names are strings and values bytes: a name that is not UTF-8 cannot arrive.
    let headers: Vec<(&str, &[u8])> = head
        .split(|byte| *byte == b'\n')
        .filter_map(|line| {
            let colon = line.iter().position(|byte| *byte == b':')?;
            Some((
                std::str::from_utf8(&line[..colon]).ok()?,
                &line[colon + 1..],
            ))
        })
        .collect();
    let Ok(envelope) = Envelope::decode(headers.iter().copied(), payload) else {
        return;
    };
    assert_eq!(
        &envelope.payload[..],
        payload,
        "the value is kept byte for byte"
    );
    // What the pipeline decodes, ingress could have encoded: decoding its own headers again
    // gives the same envelope (a retry or a replay must read identically).
    let encoded = envelope.headers();
    let again = Envelope::decode(
        encoded
            .iter()
            .map(|(name, value)| (*name, value.as_bytes())),
        &envelope.payload,
    )
    .expect("an envelope's own headers decode");
    assert_eq!(again, envelope);
});
