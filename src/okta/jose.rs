//! The JOSE pieces OAuth needs: base64url, private keys from PEM or JWK files, compact JWS
//! signing (RS256, ES256) and public JWKs. Key material never appears in errors or `Debug`.

use std::fmt;

use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::rsa;
use aws_lc_rs::signature::{
    ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, KeyPair as _, RSA_PKCS1_SHA256,
};
use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use serde_json::{Value, json};

pub fn b64url(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

fn b64url_decode(s: &str) -> Result<Vec<u8>, String> {
    URL_SAFE_NO_PAD
        .decode(s.trim_end_matches('='))
        .map_err(|_| "a JWK member is not base64url".to_owned())
}

/// base64url(SHA-256(data)): DPoP's `ath` and JWK thumbprints.
pub fn sha256_b64url(data: &[u8]) -> String {
    b64url(aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, data).as_ref())
}

/// A fresh random identifier (128 bits, hex) for `jti` claims.
pub fn random_id() -> Result<String, String> {
    let mut b = [0u8; 16];
    aws_lc_rs::rand::fill(&mut b).map_err(|_| "the system random source failed".to_owned())?;
    Ok(b.iter().map(|x| format!("{x:02x}")).collect())
}

/// A private key that signs JWTs. Which algorithm follows from the key type.
pub enum SigningKey {
    Rsa(rsa::KeyPair),
    Ec(EcdsaKeyPair),
}

impl fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SigningKey({}, [redacted])", self.alg())
    }
}

/// A parsed key file: the key and, for a JWK, its `kid`.
#[derive(Debug)]
pub struct ParsedKey {
    pub key: SigningKey,
    pub kid: Option<String>,
}

impl SigningKey {
    /// Reads a PEM (`PRIVATE KEY`, `RSA PRIVATE KEY`, `EC PRIVATE KEY`) or a JWK private key.
    /// Errors describe the problem without quoting the key.
    pub fn parse(text: &str) -> Result<ParsedKey, String> {
        let t = text.trim();
        if t.starts_with('{') {
            return parse_jwk(t);
        }
        let (label, der) = pem(t)?;
        let key = match label.as_str() {
            "PRIVATE KEY" => rsa::KeyPair::from_pkcs8(&der)
                .map(SigningKey::Rsa)
                .or_else(|_| {
                    EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &der)
                        .map(SigningKey::Ec)
                })
                .map_err(|_| {
                    "it is neither an RSA (2048 bits or more) nor an EC P-256 PKCS#8 key".to_owned()
                })?,
            "RSA PRIVATE KEY" => rsa::KeyPair::from_der(&der)
                .map(SigningKey::Rsa)
                .map_err(|_| "the RSA key is malformed or shorter than 2048 bits".to_owned())?,
            "EC PRIVATE KEY" => {
                EcdsaKeyPair::from_private_key_der(&ECDSA_P256_SHA256_FIXED_SIGNING, &der)
                    .map(SigningKey::Ec)
                    .map_err(|_| "the EC key is malformed or not on curve P-256".to_owned())?
            }
            "ENCRYPTED PRIVATE KEY" => {
                return Err("it is encrypted; export it without a passphrase (openssl pkcs8 -topk8 -nocrypt)".to_owned());
            }
            other => return Err(format!("it holds a \"{other}\", not a private key")),
        };
        Ok(ParsedKey { key, kid: None })
    }

    /// A new EC P-256 key, for DPoP when no DPoP key file is configured.
    pub fn generate_ec() -> Result<SigningKey, String> {
        EcdsaKeyPair::generate(&ECDSA_P256_SHA256_FIXED_SIGNING)
            .map(SigningKey::Ec)
            .map_err(|_| "cannot generate a DPoP key".to_owned())
    }

    pub fn alg(&self) -> &'static str {
        match self {
            SigningKey::Rsa(_) => "RS256",
            SigningKey::Ec(_) => "ES256",
        }
    }

    /// The public half as a JWK (RFC 7517), as DPoP proofs carry it.
    pub fn public_jwk(&self) -> Value {
        match self {
            SigningKey::Rsa(k) => {
                let p = k.public_key();
                json!({
                    "kty": "RSA",
                    "e": b64url(p.exponent().big_endian_without_leading_zero()),
                    "n": b64url(p.modulus().big_endian_without_leading_zero()),
                })
            }
            SigningKey::Ec(k) => {
                let point = k.public_key().as_ref();
                let (x, y) = point
                    .get(1..)
                    .unwrap_or_default()
                    .split_at(point.len().saturating_sub(1) / 2);
                json!({ "kty": "EC", "crv": "P-256", "x": b64url(x), "y": b64url(y) })
            }
        }
    }

    /// Compact JWS of `claims` with `header` (to which `alg` is added).
    pub fn sign_jwt(&self, mut header: Value, claims: &Value) -> Result<String, String> {
        header["alg"] = Value::from(self.alg());
        let input = format!(
            "{}.{}",
            b64url(header.to_string().as_bytes()),
            b64url(claims.to_string().as_bytes())
        );
        let rng = SystemRandom::new();
        let sig = match self {
            SigningKey::Rsa(k) => {
                let mut sig = vec![0u8; k.public_modulus_len()];
                k.sign(&RSA_PKCS1_SHA256, &rng, input.as_bytes(), &mut sig)
                    .map_err(|_| "signing with the RSA key failed".to_owned())?;
                sig
            }
            SigningKey::Ec(k) => k
                .sign(&rng, input.as_bytes())
                .map_err(|_| "signing with the EC key failed".to_owned())?
                .as_ref()
                .to_vec(),
        };
        Ok(format!("{input}.{}", b64url(&sig)))
    }
}

/// The label and DER bytes of the first PEM block.
fn pem(text: &str) -> Result<(String, Vec<u8>), String> {
    let begin = text
        .find("-----BEGIN ")
        .ok_or("it is neither PEM (-----BEGIN …) nor a JWK (JSON)")?;
    let rest = &text[begin + 11..];
    let label_end = rest.find("-----").ok_or("its PEM header is broken")?;
    let label = rest[..label_end].to_owned();
    let body = &rest[label_end + 5..];
    let end = body
        .find("-----END ")
        .ok_or("its PEM block has no END line")?;
    let b64: String = body[..end]
        .lines()
        .filter(|l| !l.contains(':'))
        .flat_map(|l| l.chars())
        .filter(|c| !c.is_whitespace())
        .collect();
    let der = STANDARD
        .decode(b64)
        .map_err(|_| "its PEM body is not base64".to_owned())?;
    Ok((label, der))
}

fn parse_jwk(text: &str) -> Result<ParsedKey, String> {
    let v: Value = serde_json::from_str(text).map_err(|_| "it is not valid JSON".to_owned())?;
    // A JWKS with one key is accepted too, since that is what some consoles export.
    let v = match v.get("keys").and_then(Value::as_array) {
        Some(keys) if keys.len() == 1 => keys[0].clone(),
        Some(_) => {
            return Err("it is a JWKS with more than one key; keep only the private key".into());
        }
        None => v,
    };
    let m = |name: &str| -> Result<Vec<u8>, String> {
        b64url_decode(
            v.get(name)
                .and_then(Value::as_str)
                .ok_or_else(|| format!("the JWK has no \"{name}\" (is it the public key?)"))?,
        )
    };
    let kid = v.get("kid").and_then(Value::as_str).map(str::to_owned);
    let key =
        match v.get("kty").and_then(Value::as_str) {
            Some("RSA") => {
                let c = rsa::KeyPairComponents {
                    public_key: rsa::PublicKeyComponents {
                        n: strip_zeros(m("n")?),
                        e: strip_zeros(m("e")?),
                    },
                    d: m("d")?,
                    p: m("p")?,
                    q: m("q")?,
                    dP: m("dp")?,
                    dQ: m("dq")?,
                    qInv: m("qi")?,
                };
                SigningKey::Rsa(rsa::KeyPair::from_components(&c).map_err(|_| {
                    "the RSA JWK is inconsistent or shorter than 2048 bits".to_owned()
                })?)
            }
            Some("EC") => {
                if v.get("crv").and_then(Value::as_str) != Some("P-256") {
                    return Err("only EC keys on curve P-256 (ES256) are supported".into());
                }
                let mut point = vec![4u8];
                point.extend(m("x")?);
                point.extend(m("y")?);
                SigningKey::Ec(
                    EcdsaKeyPair::from_private_key_and_public_key(
                        &ECDSA_P256_SHA256_FIXED_SIGNING,
                        &m("d")?,
                        &point,
                    )
                    .map_err(|_| "the EC JWK is inconsistent".to_owned())?,
                )
            }
            _ => return Err("the JWK's kty is neither RSA nor EC".into()),
        };
    Ok(ParsedKey { key, kid })
}

fn strip_zeros(mut b: Vec<u8>) -> Vec<u8> {
    let zeros = b.iter().take_while(|&&x| x == 0).count();
    b.drain(..zeros.min(b.len().saturating_sub(1)));
    b
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_lc_rs::encoding::AsDer;

    fn pem_of(label: &str, der: &[u8]) -> String {
        format!(
            "-----BEGIN {label}-----\n{}\n-----END {label}-----\n",
            STANDARD.encode(der)
        )
    }

    #[test]
    fn pem_rsa_and_ec_keys_sign() {
        let rsa = rsa::KeyPair::generate(rsa::KeySize::Rsa2048).expect("rsa");
        let der = rsa.as_der().expect("der");
        let k = SigningKey::parse(&pem_of("PRIVATE KEY", der.as_ref())).expect("parse");
        assert_eq!(k.key.alg(), "RS256");
        let jwt = k.key.sign_jwt(json!({}), &json!({"a":1})).expect("sign");
        assert_eq!(jwt.split('.').count(), 3);

        let ec =
            EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &SystemRandom::new())
                .expect("ec");
        let k = SigningKey::parse(&pem_of("PRIVATE KEY", ec.as_ref())).expect("parse");
        assert_eq!(k.key.alg(), "ES256");
        let jwk = k.key.public_jwk();
        assert_eq!(
            b64url_decode(jwk["x"].as_str().expect("x"))
                .expect("b64")
                .len(),
            32
        );
        assert!(!format!("{:?}", k.key).contains(&STANDARD.encode(ec.as_ref())[..20]));
    }

    #[test]
    fn bad_keys_say_why_without_echoing() {
        let e = SigningKey::parse("hello secret").unwrap_err();
        assert!(e.contains("neither PEM") && !e.contains("secret"));
        let e = SigningKey::parse("{\"kty\":\"RSA\",\"n\":\"AQAB\",\"e\":\"AQAB\"}").unwrap_err();
        assert!(e.contains("public key"), "{e}");
        let e = SigningKey::parse(&pem_of("CERTIFICATE", b"x")).unwrap_err();
        assert!(e.contains("CERTIFICATE"), "{e}");
    }
}
