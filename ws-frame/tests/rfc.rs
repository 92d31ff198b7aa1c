//! RFC 6455 §5.7 examples.

use bytes::BytesMut;
use oyez_frame::{Decoder, Limits, OpCode, Role, apply_mask};

use crate::util::decode_all;

const MASK: [u8; 4] = [0x37, 0xfa, 0x21, 0x3d];
const MASKED_HELLO: [u8; 11] = [
    0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58,
];

#[test]
fn masked_hello_is_hello_xor_mask() {
    // Cross-check the vector itself rather than trust a transcription.
    let mut plain = *b"Hello";
    apply_mask(&mut plain, MASK, 0);
    assert_eq!(plain, MASKED_HELLO[6..]);
}

#[test]
fn single_frame_unmasked_text_to_a_client() {
    let (frames, err) = decode_all(
        Role::Client,
        Limits::default(),
        &[0x81, 0x05, 0x48, 0x65, 0x6c, 0x6c, 0x6f],
    );
    assert_eq!(err, None);
    assert_eq!(frames.len(), 1);
    assert_eq!(
        (frames[0].header.opcode, &frames[0].payload[..]),
        (OpCode::Text, &b"Hello"[..])
    );
}

#[test]
fn single_frame_masked_text_to_a_server() {
    let (frames, err) = decode_all(Role::Server, Limits::default(), &MASKED_HELLO);
    assert_eq!(err, None);
    assert_eq!(&frames[0].payload[..], b"Hello");
    assert_eq!(frames[0].header.mask, Some(MASK));
}

#[test]
fn fragmented_unmasked_text() {
    let bytes = [0x01, 0x03, 0x48, 0x65, 0x6c, 0x80, 0x02, 0x6c, 0x6f];
    let (frames, err) = decode_all(Role::Client, Limits::default(), &bytes);
    assert_eq!(err, None);
    assert_eq!(frames.len(), 2);
    assert!(!frames[0].header.fin && frames[1].header.fin);
    assert_eq!(frames[1].header.opcode, OpCode::Continuation);
    let joined: Vec<u8> = frames.iter().flat_map(|f| f.payload.to_vec()).collect();
    assert_eq!(joined, b"Hello");
}

#[test]
fn ping_and_pong() {
    // Unmasked ping "Hello"; masked pong "Hello" (RFC 6455 §5.7).
    let (frames, _) = decode_all(
        Role::Client,
        Limits::default(),
        &[0x89, 0x05, 0x48, 0x65, 0x6c, 0x6c, 0x6f],
    );
    assert_eq!(
        (frames[0].header.opcode, &frames[0].payload[..]),
        (OpCode::Ping, &b"Hello"[..])
    );
    let pong = [
        0x8a, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58,
    ];
    let (frames, _) = decode_all(Role::Server, Limits::default(), &pong);
    assert_eq!(
        (frames[0].header.opcode, &frames[0].payload[..]),
        (OpCode::Pong, &b"Hello"[..])
    );
}

#[test]
fn the_256_byte_and_64_kib_length_forms() {
    let mut bytes = vec![0x82, 0x7E, 0x01, 0x00];
    bytes.extend(std::iter::repeat_n(0xAB, 256));
    let (frames, err) = decode_all(Role::Client, Limits::default(), &bytes);
    assert_eq!((err, frames[0].payload.len()), (None, 256));

    let mut bytes = vec![0x82, 0x7F, 0, 0, 0, 0, 0, 1, 0, 0];
    bytes.extend(std::iter::repeat_n(0xCD, 65536));
    let (frames, err) = decode_all(Role::Client, Limits::default(), &bytes);
    assert_eq!((err, frames[0].payload.len()), (None, 65536));
}

#[test]
fn one_byte_at_a_time() {
    let mut dec = Decoder::new(Role::Server, Limits::default());
    let mut buf = BytesMut::new();
    for (i, b) in MASKED_HELLO.iter().enumerate() {
        buf.extend_from_slice(&[*b]);
        let got = dec.decode(&mut buf).unwrap();
        assert_eq!(got.is_some(), i == MASKED_HELLO.len() - 1, "byte {i}");
        if let Some(frame) = got {
            assert_eq!(&frame.payload[..], b"Hello");
        }
    }
}

#[test]
fn payload_is_split_off_without_copying() {
    let mut buf = BytesMut::from(&MASKED_HELLO[..]);
    let payload_addr = buf[6..].as_ptr() as usize;
    let frame = Decoder::new(Role::Server, Limits::default())
        .decode(&mut buf)
        .unwrap()
        .unwrap();
    assert_eq!(
        frame.payload.as_ptr() as usize,
        payload_addr,
        "the payload shares the input buffer"
    );
}
