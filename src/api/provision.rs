//! What SCIM writes may ask of provisioning mode's single writer, as a trait the composition
//! root implements (like `control.rs`), so the API never depends on the sync engine.

use futures::future::BoxFuture;

use crate::access::WriteGrant;
use crate::model::{ProvisionError, ProvisionWrite};

/// Applies people and group writes from a provisioning client. `startup` implements it over
/// `sync::Provisioner`; its presence in `ApiState` is what makes the mirror accept SCIM writes
/// (`--source scim`). Every write carries the caller's [`WriteGrant`], so only a write the
/// access rules allowed reaches it.
pub trait Provisioning: Send + Sync {
    /// Applies `write` (one store transaction, after every write before it) and returns the id
    /// of the person or group written.
    fn write(
        &self,
        grant: &WriteGrant,
        write: ProvisionWrite,
    ) -> BoxFuture<'static, Result<String, ProvisionError>>;
}
