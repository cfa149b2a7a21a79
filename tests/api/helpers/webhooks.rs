//! A webhook receiver on loopback: records every delivery (headers and body) and answers
//! as the test sets it (200, 503, 410, or slowly).
use poem::web::Data;
use poem::{handler, post, EndpointExt, Route};
use std::sync::atomic::{AtomicU16, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

/// One request the receiver got.
#[derive(Clone, Debug)]
pub struct Received {
    pub headers: poem::http::HeaderMap,
    pub body: Vec<u8>,
    /// What the receiver answered.
    pub status: u16,
}

impl Received {
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).unwrap()
    }
    pub fn id(&self) -> String {
        self.headers["webhook-id"].to_str().unwrap().to_owned()
    }
}

#[derive(Default)]
struct State {
    got: Mutex<Vec<Received>>,
    answer: AtomicU16,
    delay_ms: AtomicU64,
}

pub struct Receiver {
    pub url: String,
    state: Arc<State>,
}

#[handler]
async fn hook(req: &poem::Request, body: poem::Body, Data(s): Data<&Arc<State>>) -> poem::Response {
    let body = body.into_vec().await.unwrap_or_default();
    let delay = s.delay_ms.load(Ordering::SeqCst);
    let status = s.answer.load(Ordering::SeqCst);
    let mut headers = poem::http::HeaderMap::new();
    for (k, v) in req.headers() {
        headers.insert(k.clone(), v.clone());
    }
    s.got.lock().unwrap().push(Received {
        headers,
        body,
        status,
    });
    if delay > 0 {
        tokio::time::sleep(std::time::Duration::from_millis(delay)).await;
    }
    poem::Response::builder()
        .status(poem::http::StatusCode::from_u16(status).unwrap())
        .body("")
}

impl Receiver {
    pub async fn start() -> Receiver {
        let state = Arc::new(State::default());
        state.answer.store(200, Ordering::SeqCst);
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let addr = format!("127.0.0.1:{port}");
        let app = Route::new().at("/hook", post(hook)).data(state.clone());
        let listen = addr.clone();
        tokio::spawn(async move {
            let _ = poem::Server::new(poem::listener::TcpListener::bind(listen))
                .run(app)
                .await;
        });
        for _ in 0..100 {
            if tokio::net::TcpStream::connect(&addr).await.is_ok() {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
        Receiver {
            url: format!("http://{addr}/hook"),
            state,
        }
    }

    /// What the receiver answers from now on.
    pub fn answer(&self, status: u16) {
        self.state.answer.store(status, Ordering::SeqCst);
    }

    pub fn delay(&self, ms: u64) {
        self.state.delay_ms.store(ms, Ordering::SeqCst);
    }

    pub fn got(&self) -> Vec<Received> {
        self.state.got.lock().unwrap().clone()
    }

    /// The deliveries it accepted (2xx).
    pub fn accepted(&self) -> Vec<Received> {
        self.got()
            .into_iter()
            .filter(|r| (200..300).contains(&r.status))
            .collect()
    }
}
