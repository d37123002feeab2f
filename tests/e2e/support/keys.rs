//! OAuth keys for the simulator's API Services app in every form the README accepts (PKCS#8,
//! PKCS#1 and SEC1 PEM, JWK), written out by hand from the DER so the product's own parser is
//! not the one producing them; base64url written by hand (RFC 4648 §5); and a recording front
//! for the simulator that keeps every request the client sent.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex, PoisonError};

use aws_lc_rs::encoding::AsDer;
use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::rsa;
use aws_lc_rs::signature::{ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, KeyPair};
use axum::body::{Body, Bytes};
use axum::extract::{Request, State};
use axum::http::HeaderMap;
use axum::middleware::Next;
use axum::response::Response;
use base64::Engine;
use serde_json::{Value, json};

use oktamirror::sim::{SimPublicKey, Simulator};

/// base64url without padding, from the alphabet, not from a library.
pub fn b64url_by_hand(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let mut out = String::new();
    for chunk in bytes.chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..=chunk.len() {
            out.push(ALPHABET[((n >> (18 - 6 * i)) & 63) as usize] as char);
        }
    }
    out
}

pub fn pem(label: &str, der: &[u8]) -> String {
    let b64 = base64::engine::general_purpose::STANDARD.encode(der);
    let lines: Vec<&str> = b64
        .as_bytes()
        .chunks(64)
        .map(|c| std::str::from_utf8(c).expect("ascii"))
        .collect();
    format!(
        "-----BEGIN {label}-----\n{}\n-----END {label}-----\n",
        lines.join("\n")
    )
}

/// One DER element: (tag, content, the rest after it).
fn tlv(der: &[u8]) -> (u8, &[u8], &[u8]) {
    let tag = der[0];
    let (len, head) = match der[1] {
        n if n < 0x80 => (usize::from(n), 2),
        n => {
            let k = usize::from(n & 0x7f);
            let len = der[2..2 + k]
                .iter()
                .fold(0usize, |a, &b| (a << 8) | usize::from(b));
            (len, 2 + k)
        }
    };
    (tag, &der[head..head + len], &der[head + len..])
}

fn encode(tag: u8, content: &[u8]) -> Vec<u8> {
    let mut out = vec![tag];
    let len = content.len();
    if len < 0x80 {
        out.push(len as u8);
    } else {
        let bytes: Vec<u8> = len
            .to_be_bytes()
            .into_iter()
            .skip_while(|&b| b == 0)
            .collect();
        out.push(0x80 | bytes.len() as u8);
        out.extend(bytes);
    }
    out.extend_from_slice(content);
    out
}

/// The private key inside a PKCS#8 PrivateKeyInfo (PKCS#1 for RSA, SEC1 for EC).
fn pkcs8_inner(der: &[u8]) -> Vec<u8> {
    let (_, info, _) = tlv(der);
    let (_, _version, rest) = tlv(info);
    let (_, _algorithm, rest) = tlv(rest);
    let (tag, key, _) = tlv(rest);
    assert_eq!(tag, 0x04, "PrivateKeyInfo holds an OCTET STRING");
    key.to_vec()
}

/// An RSA key in every form, and its public half for the simulator.
pub struct RsaForms {
    pub pkcs8: String,
    pub pkcs1: String,
    jwk_fields: Value,
    pub public: SimPublicKey,
}

impl RsaForms {
    pub fn jwk(&self, kid: Option<&str>) -> String {
        let mut v = self.jwk_fields.clone();
        if let Some(k) = kid {
            v["kid"] = json!(k);
        }
        v.to_string()
    }
}

pub fn rsa_key() -> RsaForms {
    let k = rsa::KeyPair::generate(rsa::KeySize::Rsa2048).expect("rsa");
    let public = rsa::PublicKeyComponents::<Vec<u8>>::from(k.public_key());
    let der = k.as_der().expect("der");
    let pkcs1 = pkcs8_inner(der.as_ref());
    // RSAPrivateKey ::= SEQUENCE { version, n, e, d, p, q, dp, dq, qi }
    let (_, mut rest, _) = tlv(&pkcs1);
    let mut ints = Vec::new();
    while !rest.is_empty() {
        let (tag, v, r) = tlv(rest);
        assert_eq!(tag, 0x02, "an INTEGER");
        let zeros = v.iter().take_while(|&&b| b == 0).count().min(v.len() - 1);
        ints.push(b64url_by_hand(&v[zeros..]));
        rest = r;
    }
    let names = ["version", "n", "e", "d", "p", "q", "dp", "dq", "qi"];
    let mut jwk = json!({"kty": "RSA"});
    for (name, v) in names.iter().zip(&ints).skip(1) {
        jwk[*name] = json!(v);
    }
    RsaForms {
        pkcs8: pem("PRIVATE KEY", der.as_ref()),
        pkcs1: pem("RSA PRIVATE KEY", &pkcs1),
        jwk_fields: jwk,
        public: SimPublicKey::Rsa {
            n: public.n,
            e: public.e,
        },
    }
}

/// An EC P-256 key in every form, and its public point for the simulator.
pub struct EcForms {
    pub pkcs8: String,
    /// SEC1 as `openssl ec` writes it: version, d, the curve, the public point.
    pub sec1: String,
    jwk_fields: Value,
    pub public: SimPublicKey,
}

impl EcForms {
    pub fn jwk(&self, kid: Option<&str>) -> String {
        let mut v = self.jwk_fields.clone();
        if let Some(k) = kid {
            v["kid"] = json!(k);
        }
        v.to_string()
    }
}

pub fn ec_key() -> EcForms {
    let doc = EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &SystemRandom::new())
        .expect("ec");
    let k = EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, doc.as_ref()).expect("ec");
    let point = k.public_key().as_ref().to_vec();
    // ECPrivateKey ::= SEQUENCE { version 1, privateKey OCTET STRING, [0] params, [1] pub }
    let inner = pkcs8_inner(doc.as_ref());
    let (_, body, _) = tlv(&inner);
    let (_, _version, rest) = tlv(body);
    let (tag, d, _) = tlv(rest);
    assert_eq!(tag, 0x04, "the private scalar");
    const P256: &[u8] = &[0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07];
    let mut bits = vec![0u8];
    bits.extend(&point);
    let sec1 = encode(
        0x30,
        &[
            encode(0x02, &[1]),
            encode(0x04, d),
            encode(0xa0, &encode(0x06, P256)),
            encode(0xa1, &encode(0x03, &bits)),
        ]
        .concat(),
    );
    let jwk = json!({
        "kty": "EC",
        "crv": "P-256",
        "d": b64url_by_hand(d),
        "x": b64url_by_hand(&point[1..33]),
        "y": b64url_by_hand(&point[33..]),
    });
    EcForms {
        pkcs8: pem("PRIVATE KEY", doc.as_ref()),
        sec1: pem("EC PRIVATE KEY", &sec1),
        jwk_fields: jwk,
        public: SimPublicKey::Ec { point },
    }
}

/// A request as the simulator received it.
#[derive(Clone, Debug)]
pub struct Recorded {
    pub method: String,
    pub path: String,
    pub headers: HeaderMap,
    pub body: Bytes,
}

pub type Recording = Arc<Mutex<Vec<Recorded>>>;

async fn record(State(log): State<Recording>, req: Request, next: Next) -> Response {
    let (parts, body) = req.into_parts();
    let body = axum::body::to_bytes(body, 1 << 20)
        .await
        .expect("a request body");
    log.lock()
        .unwrap_or_else(PoisonError::into_inner)
        .push(Recorded {
            method: parts.method.to_string(),
            path: parts.uri.path().to_owned(),
            headers: parts.headers.clone(),
            body: body.clone(),
        });
    next.run(Request::from_parts(parts, Body::from(body))).await
}

/// Serves the simulator's API on a new port with every request recorded first.
pub async fn serve_recorded(sim: &Simulator) -> (SocketAddr, Recording) {
    let log = Recording::default();
    let app = sim
        .router()
        .layer(axum::middleware::from_fn_with_state(log.clone(), record));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    (addr, log)
}

/// The header and claims of a compact JWS, decoded without checking anything.
pub fn jws_parts(jws: &str) -> (Value, Value) {
    let part = |i: usize| -> Value {
        let p = jws.split('.').nth(i).expect("a JWS part");
        let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(p)
            .expect("base64url");
        serde_json::from_slice(&bytes).expect("JSON")
    };
    (part(0), part(1))
}
