//! Sealing secrets the service receives itself (a refresh token from `freebusy login`, its
//! rotated successors) before they reach the store: ChaCha20-Poly1305 (RFC 8439) from `ring`,
//! with a random nonce per value and the value's place (tenant and setting) as associated data,
//! so a sealed value copied to another place does not open.

use base64::Engine as _;
use ring::aead::{Aad, LessSafeKey, Nonce, UnboundKey, CHACHA20_POLY1305, NONCE_LEN};
use ring::rand::{SecureRandom, SystemRandom};

/// The key that seals and opens secrets in the store: 32 bytes, written as base64.
pub struct SealKey(LessSafeKey);

/// Why a sealed value could not be made or opened.
#[derive(Debug, thiserror::Error)]
pub enum SealError {
    /// The configured key is not 32 bytes of base64.
    #[error("the store's secret key must be 32 bytes written as base64 (freebusy store new-key makes one)")]
    BadKey,
    /// The value was sealed with another key, for another place, or was altered.
    #[error("a sealed secret in the store does not open with the configured key (another key, or altered)")]
    DoesNotOpen,
    /// The system's random number generator failed.
    #[error("the system's random number generator failed")]
    Random,
}

impl SealKey {
    /// A key from its base64 text.
    pub fn from_base64(text: &str) -> Result<SealKey, SealError> {
        let bytes = base64::engine::general_purpose::STANDARD.decode(text.trim()).map_err(|_| SealError::BadKey)?;
        let key = UnboundKey::new(&CHACHA20_POLY1305, &bytes).map_err(|_| SealError::BadKey)?;
        Ok(SealKey(LessSafeKey::new(key)))
    }

    /// A fresh random key, as base64.
    pub fn generate() -> Result<String, SealError> {
        let mut bytes = [0u8; 32];
        SystemRandom::new().fill(&mut bytes).map_err(|_| SealError::Random)?;
        Ok(base64::engine::general_purpose::STANDARD.encode(bytes))
    }

    /// Seal `value` for `place`: nonce followed by ciphertext and tag.
    pub fn seal(&self, place: &str, value: &str) -> Result<Vec<u8>, SealError> {
        let mut nonce = [0u8; NONCE_LEN];
        SystemRandom::new().fill(&mut nonce).map_err(|_| SealError::Random)?;
        let mut sealed = value.as_bytes().to_vec();
        self.0
            .seal_in_place_append_tag(Nonce::assume_unique_for_key(nonce), Aad::from(place.as_bytes()), &mut sealed)
            .map_err(|_| SealError::DoesNotOpen)?;
        Ok([nonce.as_slice(), &sealed].concat())
    }

    /// Open what [`SealKey::seal`] made for `place`.
    pub fn open(&self, place: &str, sealed: &[u8]) -> Result<String, SealError> {
        let (nonce, ciphertext) = sealed.split_at_checked(NONCE_LEN).ok_or(SealError::DoesNotOpen)?;
        let nonce = Nonce::try_assume_unique_for_key(nonce).map_err(|_| SealError::DoesNotOpen)?;
        let mut buffer = ciphertext.to_vec();
        let plain = self
            .0
            .open_in_place(nonce, Aad::from(place.as_bytes()), &mut buffer)
            .map_err(|_| SealError::DoesNotOpen)?;
        String::from_utf8(plain.to_vec()).map_err(|_| SealError::DoesNotOpen)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_sealed_secret_opens_only_with_its_key_and_in_its_place() {
        let key = SealKey::from_base64(&SealKey::generate().unwrap()).unwrap();
        let sealed = key.seal("contoso/refresh_token", "0.AXoA-refresh").unwrap();
        assert!(!sealed.windows(7).any(|w| w == b"refresh"), "the plain text is not in the sealed bytes");
        assert_eq!(key.open("contoso/refresh_token", &sealed).unwrap(), "0.AXoA-refresh");
        assert!(key.open("fabrikam/refresh_token", &sealed).is_err(), "another place");
        let other = SealKey::from_base64(&SealKey::generate().unwrap()).unwrap();
        assert!(other.open("contoso/refresh_token", &sealed).is_err(), "another key");
        assert!(SealKey::from_base64("too short").is_err());
    }
}
