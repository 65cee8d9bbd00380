//! Reading what HTTP answers say in their headers, the same for every API: the next page of a list
//! (`Link: <…>; rel="next"`, RFC 8288) and whole-number headers such as `Retry-After`.

use http::HeaderMap;

/// A header holding a whole number (`Retry-After` seconds, a rate-limit count).
pub fn header_u64(headers: &HeaderMap, name: &str) -> Option<u64> {
    headers.get(name)?.to_str().ok()?.trim().parse().ok()
}

/// The `rel="next"` target of a REST `Link` header, as a path and query relative to the API root.
pub fn next_link(headers: &HeaderMap, api_url: &str) -> Option<String> {
    let link = headers.get("link")?.to_str().ok()?;
    let target = link.split(',').find_map(|part| {
        let (url, rel) = part.split_once(';')?;
        rel.contains("rel=\"next\"").then(|| url.trim().trim_start_matches('<').trim_end_matches('>').to_string())
    })?;
    let uri: http::Uri = target.parse().ok()?;
    let path = uri.path_and_query()?.as_str().to_string();
    // Links are absolute; the client prepends the API root (which may carry a path on Enterprise).
    let root_path = api_url.parse::<http::Uri>().ok().map(|u| u.path().trim_end_matches('/').to_string());
    match root_path {
        Some(root) if !root.is_empty() && path.starts_with(&root) => Some(path[root.len()..].to_string()),
        _ => Some(path),
    }
}
