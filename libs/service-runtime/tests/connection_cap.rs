//! A listener serves at most `MAX_CONNECTIONS` connections at once; the next client is not
//! dropped but waits, and is answered as soon as one of the others closes.

use std::time::Duration;

use axum::{Router, routing::get};
use service_runtime::{Application, Routes, ServerConfig};
use test_kit::TestApp;
use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    net::TcpStream,
};

const CAP: usize = 2;

async fn app() -> TestApp {
    let router = Router::new().route("/hello", get(|| async { "hello" }));
    let config = ServerConfig {
        max_connections: CAP,
        ..ServerConfig::loopback()
    };
    let routes = Routes {
        public: Some(router),
        admin: Router::new(),
    };
    TestApp::spawn(Application::bind(&config, routes).await.unwrap())
}

/// Opens a kept-alive connection and sends one request on it.
async fn connect_and_ask(app: &TestApp) -> TcpStream {
    let mut stream = TcpStream::connect(app.address.trim_start_matches("http://"))
        .await
        .unwrap();
    stream
        .write_all(b"GET /hello HTTP/1.1\r\nHost: metafrazo.test\r\n\r\n")
        .await
        .unwrap();
    stream
}

/// The answer on `stream`, if one comes within `wait`.
async fn answer_within(stream: &mut TcpStream, wait: Duration) -> Option<String> {
    let mut answer = vec![0; 1024];
    let read = tokio::time::timeout(wait, stream.read(&mut answer))
        .await
        .ok()?
        .unwrap();
    Some(String::from_utf8_lossy(&answer[..read]).into_owned())
}

#[tokio::test]
async fn the_connection_past_the_cap_waits_until_one_closes() {
    let app = app().await;
    let mut open = Vec::new();
    for _ in 0..CAP {
        let mut stream = connect_and_ask(&app).await;
        let answer = answer_within(&mut stream, Duration::from_secs(5)).await;
        assert!(
            answer.is_some_and(|answer| answer.starts_with("HTTP/1.1 200")),
            "connections up to the cap are served"
        );
        open.push(stream);
    }
    let mut waiting = connect_and_ask(&app).await;
    // How long "not served" is watched for: the server answers /hello in well under a
    // millisecond, so half a second without an answer means the connection was not taken.
    assert_eq!(
        answer_within(&mut waiting, Duration::from_millis(500)).await,
        None,
        "the connection past the cap is not served while the others stay open"
    );
    drop(open.pop());
    let answer = answer_within(&mut waiting, Duration::from_secs(5))
        .await
        .expect("served once a connection closed");
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
}
