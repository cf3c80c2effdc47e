//! A client that opens a connection and sends its headers slowly, or never, is cut off after the
//! header read timeout; one that sends them promptly is answered and may keep its connection,
//! until it sits idle for that long.

use std::time::{Duration, Instant};

use axum::{Router, routing::get};
use service_runtime::{Application, Routes, ServerConfig};
use test_kit::TestApp;
use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    net::TcpStream,
};

const HEADER_READ_TIMEOUT: Duration = Duration::from_millis(400);

async fn app() -> TestApp {
    let router = Router::new().route("/hello", get(|| async { "hello" }));
    let config = ServerConfig {
        header_read_timeout: HEADER_READ_TIMEOUT,
        ..ServerConfig::loopback()
    };
    TestApp::spawn(
        Application::bind(
            &config,
            Routes {
                public: Some(router),
                admin: Router::new(),
            },
        )
        .await
        .unwrap(),
    )
}

async fn connect(app: &TestApp) -> TcpStream {
    let address = app.address.trim_start_matches("http://");
    TcpStream::connect(address).await.unwrap()
}

/// Reads until the server closes the connection; answers what it sent and when it closed.
async fn read_until_closed(stream: &mut TcpStream) -> (String, Duration) {
    let started = Instant::now();
    let mut received = Vec::new();
    tokio::time::timeout(Duration::from_secs(20), stream.read_to_end(&mut received))
        .await
        .expect("the server closes the connection")
        .ok();
    (
        String::from_utf8_lossy(&received).into_owned(),
        started.elapsed(),
    )
}

#[tokio::test]
async fn unfinished_headers_are_cut_off_after_the_timeout() {
    let app = app().await;
    let mut stream = connect(&app).await;
    stream
        .write_all(b"GET /hello HTTP/1.1\r\nHost: metafrazo.test\r\n")
        .await
        .unwrap();
    let (received, after) = read_until_closed(&mut stream).await;
    assert!(
        !received.contains("hello"),
        "no answer to a request that never ended its headers: {received}"
    );
    assert!(
        after >= HEADER_READ_TIMEOUT / 2,
        "cut off only once the timeout ran: {after:?}"
    );
}

#[tokio::test]
async fn headers_trickled_byte_by_byte_are_cut_off_too() {
    let app = app().await;
    let mut stream = connect(&app).await;
    let request = b"GET /hello HTTP/1.1\r\nHost: metafrazo.test\r\nX-Padding: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\r\n\r\n";
    let mut cut_off = false;
    for byte in request {
        if stream.write_all(&[*byte]).await.is_err() {
            cut_off = true;
            break;
        }
        // The trickle is the slow client under test, not a wait for something.
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let (received, _) = read_until_closed(&mut stream).await;
    assert!(
        cut_off || !received.contains("200 OK"),
        "a request trickled for {:?} was answered: {received}",
        Duration::from_millis(50) * request.len() as u32
    );
}

/// Sends a whole request at once on a kept-alive connection; answers the response.
async fn get_hello(stream: &mut TcpStream) -> String {
    stream
        .write_all(b"GET /hello HTTP/1.1\r\nHost: metafrazo.test\r\n\r\n")
        .await
        .unwrap();
    let mut answer = vec![0; 1024];
    let read = tokio::time::timeout(Duration::from_secs(5), stream.read(&mut answer))
        .await
        .expect("answered")
        .unwrap();
    String::from_utf8_lossy(&answer[..read]).into_owned()
}

#[tokio::test]
async fn a_prompt_client_is_answered_and_keeps_its_connection() {
    let app = app().await;
    let mut stream = connect(&app).await;
    for _ in 0..2 {
        let answer = get_hello(&mut stream).await;
        assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
        assert!(answer.ends_with("hello"), "{answer}");
    }
}

/// Hyper's header timer also runs while a kept-alive connection waits for its next request, so
/// the timeout is the idle limit too: behind a load balancer it must exceed the balancer's own
/// idle timeout (README), or the balancer may send a request down a connection we just closed.
#[tokio::test]
async fn an_idle_kept_alive_connection_is_closed_after_the_timeout() {
    let app = app().await;
    let mut stream = connect(&app).await;
    let answer = get_hello(&mut stream).await;
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    let (rest, after) = read_until_closed(&mut stream).await;
    assert!(rest.is_empty(), "{rest}");
    assert!(
        after >= HEADER_READ_TIMEOUT / 2,
        "closed only once the timeout ran: {after:?}"
    );
}
