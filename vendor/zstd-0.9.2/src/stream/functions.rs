use std::io;

use super::{Decoder, Encoder};

/// Decompress from the given source as if using a `Decoder`.
///
/// The input data must be in the zstd frame format.
pub fn decode_all<R: io::Read>(mut source: R) -> io::Result<Vec<u8>> {
    // oktamirror's patch: a single frame that states its size is decoded with this thread's
    // reused context (upstream creates a decoder, and its context, per call); anything else
    // takes the streaming path as before.
    let mut input = Vec::new();
    source.read_to_end(&mut input)?;
    if let Some(out) = decode_frame_with_reused_context(&input) {
        return Ok(out);
    }
    let mut result = Vec::new();
    copy_decode(&input[..], &mut result)?;
    Ok(result)
}

thread_local! {
    static DCTX: std::cell::RefCell<Option<zstd_safe::DCtx<'static>>> =
        std::cell::RefCell::new(None);
}

/// One whole frame with its content size in the header, decoded in one call; `None` when the
/// input is anything else (or the decode fails: the streaming path then reports why).
fn decode_frame_with_reused_context(input: &[u8]) -> Option<Vec<u8>> {
    // ZSTD_CONTENTSIZE_UNKNOWN is u64::MAX, ZSTD_CONTENTSIZE_ERROR u64::MAX - 1.
    let size = zstd_safe::get_frame_content_size(input);
    if size >= u64::MAX - 1 || size > (1 << 30) {
        return None;
    }
    match zstd_safe::find_frame_compressed_size(input) {
        Ok(n) if n == input.len() => {}
        _ => return None,
    }
    DCTX.with(|cell| {
        let mut slot = cell.try_borrow_mut().ok()?;
        let dctx = slot.get_or_insert_with(zstd_safe::create_dctx);
        let mut out = Vec::with_capacity(size as usize);
        match dctx.decompress(&mut out, input) {
            Ok(n) if n == size as usize => Some(out),
            _ => None,
        }
    })
}

/// Decompress from the given source as if using a `Decoder`.
///
/// Decompressed data will be appended to `destination`.
pub fn copy_decode<R, W>(source: R, mut destination: W) -> io::Result<()>
where
    R: io::Read,
    W: io::Write,
{
    let mut decoder = Decoder::new(source)?;
    io::copy(&mut decoder, &mut destination)?;
    Ok(())
}

/// Compress all data from the given source as if using an `Encoder`.
///
/// Result will be in the zstd frame format.
///
/// A level of `0` uses zstd's default (currently `3`).
pub fn encode_all<R: io::Read>(source: R, level: i32) -> io::Result<Vec<u8>> {
    let mut result = Vec::<u8>::new();
    copy_encode(source, &mut result, level)?;
    Ok(result)
}

/// Compress all data from the given source as if using an `Encoder`.
///
/// Compressed data will be appended to `destination`.
///
/// A level of `0` uses zstd's default (currently `3`).
pub fn copy_encode<R, W>(
    mut source: R,
    destination: W,
    level: i32,
) -> io::Result<()>
where
    R: io::Read,
    W: io::Write,
{
    let mut encoder = Encoder::new(destination, level)?;
    io::copy(&mut source, &mut encoder)?;
    encoder.finish()?;
    Ok(())
}
