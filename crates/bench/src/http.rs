//! A lean HTTP/1.1 client for the load: keep-alive connections on a shelf,
//! each request written in one call and its answer read to the end of its
//! `Content-Length`. The load shares the cores with the cluster it measures,
//! and a general client (reqwest) cost a fifth of each page's CPU, so the
//! benchmark's own cost is kept to what a request needs.

use std::io;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// How long a request may take, from connecting to its last byte.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);
/// Headers read at most in an answer.
const MAX_HEADERS: usize = 32;

/// Requests to one server, with the `Authorization` every request carries.
#[derive(Clone)]
pub(crate) struct Client {
    server: SocketAddr,
    authorization: Arc<str>,
    idle: Arc<Mutex<Vec<TcpStream>>>,
}

/// An answer: its status and its body.
pub(crate) struct Answer {
    pub status: u16,
    pub body: Vec<u8>,
}

impl Client {
    /// `key` goes in each request's bearer `Authorization`, when not empty.
    pub(crate) fn new(server: SocketAddr, key: &str) -> Self {
        let authorization = match key.is_empty() {
            true => String::new(),
            false => format!("Authorization: Bearer {key}\r\n"),
        };
        Self {
            server,
            authorization: authorization.into(),
            idle: Arc::default(),
        }
    }

    /// `GET target`; fails on any I/O fault or a malformed answer.
    pub(crate) async fn get(&self, target: &str) -> io::Result<Answer> {
        self.send("GET", target, None).await
    }

    /// `PUT target` with a JSON body.
    pub(crate) async fn put_json(&self, target: &str, body: &str) -> io::Result<Answer> {
        self.send("PUT", target, Some(body)).await
    }

    async fn send(&self, method: &str, target: &str, body: Option<&str>) -> io::Result<Answer> {
        let mut request = format!(
            "{method} {target} HTTP/1.1\r\nHost: {}\r\n{}",
            self.server, self.authorization
        );
        if let Some(body) = body {
            request += &format!(
                "Content-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
                body.len()
            );
        } else {
            request += "\r\n";
        }
        let exchange = async {
            // A kept connection the server has closed meanwhile fails at
            // once; the request then goes on a new one.
            if let Some(stream) = self.take_idle() {
                if let Ok(answer) = self.exchange(stream, request.as_bytes()).await {
                    return Ok(answer);
                }
            }
            let stream = TcpStream::connect(self.server).await?;
            stream.set_nodelay(true)?;
            self.exchange(stream, request.as_bytes()).await
        };
        tokio::time::timeout(REQUEST_TIMEOUT, exchange)
            .await
            .map_err(|_| io::Error::new(io::ErrorKind::TimedOut, "no answer in time"))?
    }

    fn take_idle(&self) -> Option<TcpStream> {
        self.idle.lock().unwrap_or_else(|e| e.into_inner()).pop()
    }

    async fn exchange(&self, mut stream: TcpStream, request: &[u8]) -> io::Result<Answer> {
        stream.write_all(request).await?;
        let answer = read_answer(&mut stream).await?;
        self.idle
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(stream);
        Ok(answer)
    }
}

/// Reads one answer; its body must have a `Content-Length`, as every answer
/// of the cluster's services has.
async fn read_answer(stream: &mut TcpStream) -> io::Result<Answer> {
    let mut buffer = Vec::with_capacity(4096);
    loop {
        if stream.read_buf(&mut buffer).await? == 0 {
            return Err(io::ErrorKind::UnexpectedEof.into());
        }
        let mut headers = [httparse::EMPTY_HEADER; MAX_HEADERS];
        let mut response = httparse::Response::new(&mut headers);
        let parsed = response.parse(&buffer).map_err(io::Error::other)?;
        let httparse::Status::Complete(head) = parsed else {
            continue;
        };
        let status = response.code.unwrap_or_default();
        let length = content_length(response.headers)?;
        while buffer.len() < head + length {
            if stream.read_buf(&mut buffer).await? == 0 {
                return Err(io::ErrorKind::UnexpectedEof.into());
            }
        }
        let body = buffer.split_off(head);
        return Ok(Answer { status, body });
    }
}

fn content_length(headers: &[httparse::Header<'_>]) -> io::Result<usize> {
    headers
        .iter()
        .find(|header| header.name.eq_ignore_ascii_case("content-length"))
        .and_then(|header| std::str::from_utf8(header.value).ok()?.trim().parse().ok())
        .ok_or_else(|| io::Error::other("an answer without a Content-Length"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::net::TcpListener;

    #[tokio::test]
    async fn answers_split_across_reads_are_read_whole_on_one_kept_connection() {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("a free port");
        let server = listener.local_addr().expect("an address");
        let serving = tokio::spawn(async move {
            let (mut socket, _) = listener.accept().await.expect("one connection");
            let mut request = [0; 1024];
            for body in ["{\"rows\":[]}", "{\"detail\":\"x\"}"] {
                let read = tokio::time::timeout(Duration::from_secs(2), socket.read(&mut request))
                    .await
                    .expect("the request came on the kept connection")
                    .expect("a request");
                let head = String::from_utf8_lossy(&request[..read]).into_owned();
                let answer = format!(
                    "HTTP/1.1 200 OK\r\ncontent-length: {}\r\n\r\n{body}",
                    body.len()
                );
                // The head and the body in separate writes, a pause between them.
                let (first, rest) = answer.split_at(answer.len() - 4);
                socket.write_all(first.as_bytes()).await.expect("written");
                tokio::time::sleep(Duration::from_millis(20)).await;
                socket.write_all(rest.as_bytes()).await.expect("written");
                assert!(head.contains("Authorization: Bearer k1\r\n"), "{head}");
            }
            // No second connection is made: this one is kept.
            tokio::time::timeout(Duration::from_millis(200), listener.accept())
                .await
                .is_err()
        });
        let client = Client::new(server, "k1");
        let first = client
            .get("/buy_orders?page_size=10")
            .await
            .expect("an answer");
        let second = client
            .put_json("/buy_order", "{}")
            .await
            .expect("an answer");
        assert_eq!((first.status, first.body), (200, b"{\"rows\":[]}".to_vec()));
        assert_eq!(second.body, b"{\"detail\":\"x\"}".to_vec());
        assert!(
            serving.await.expect("the server ran"),
            "a second connection was made"
        );
    }
}
