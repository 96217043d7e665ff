//! Request bodies as blocking readers, so a report streams from the socket into the parser
//! thread without being held in memory. The size limit is enforced as bytes arrive.

use axum::body::Body;
use axum::body::Bytes;
use http_body_util::BodyExt;
use std::io::{self, Read};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

/// The receiving end: implements `Read` for the parser thread (it blocks on the channel, so it
/// must be read from a blocking thread, never from the async runtime).
pub struct BodyReader {
    receive: tokio::sync::mpsc::Receiver<io::Result<Bytes>>,
    current: Bytes,
}

/// Set when the body passed the limit (the handler then answers 413, not the parser's error).
#[derive(Clone, Default)]
pub struct TooLarge(Arc<AtomicBool>);

impl TooLarge {
    pub fn is_set(&self) -> bool {
        self.0.load(Ordering::Relaxed)
    }
}

/// Starts forwarding `body` (at most `limit` bytes) and returns its reader.
pub fn stream(body: Body, limit: u64) -> (BodyReader, TooLarge) {
    let (send, receive) = tokio::sync::mpsc::channel(8);
    let flag = TooLarge::default();
    let too_large = flag.clone();
    tokio::spawn(async move {
        let mut body = body;
        let mut seen: u64 = 0;
        while let Some(frame) = body.frame().await {
            let item = match frame {
                Ok(frame) => {
                    let Ok(bytes) = frame.into_data() else {
                        continue; // trailers
                    };
                    seen += bytes.len() as u64;
                    if seen > limit {
                        too_large.0.store(true, Ordering::Relaxed);
                        Err(io::Error::other(format!(
                            "the upload is larger than {limit} bytes"
                        )))
                    } else {
                        Ok(bytes)
                    }
                }
                Err(_) => Err(io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    "the upload was interrupted",
                )),
            };
            let stop = item.is_err();
            if send.send(item).await.is_err() || stop {
                return;
            }
        }
    });
    (
        BodyReader {
            receive,
            current: Bytes::new(),
        },
        flag,
    )
}

impl Read for BodyReader {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        while self.current.is_empty() {
            match self.receive.blocking_recv() {
                Some(Ok(bytes)) => self.current = bytes,
                Some(Err(e)) => return Err(e),
                None => return Ok(0),
            }
        }
        let n = buf.len().min(self.current.len());
        buf[..n].copy_from_slice(&self.current[..n]);
        let _ = self.current.split_to(n);
        Ok(n)
    }
}
