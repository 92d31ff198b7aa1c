#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| oyez_frame::__fuzz::deflate_session(data));
