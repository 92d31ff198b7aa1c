#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| ws_frame::__fuzz::decode(ws_frame::Role::Client, data));
