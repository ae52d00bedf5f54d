//! People and rooms by name or address prefix, through the tenant's provider.

use freebusy_core::api::{DirectoryRequest, DirectoryResponse};
use freebusy_core::model::MailboxError;

use super::Tenant;

impl Tenant {
    /// Search the directory; a failed provider call is the error.
    pub async fn search_directory(&self, req: &DirectoryRequest) -> Result<DirectoryResponse, MailboxError> {
        let found = self
            .guarded("search-directory", |provider, ctx| {
                provider.search_directory(ctx, req.prefix.clone(), req.kind, req.max)
            })
            .await;
        self.written_settings.persist(&self.name, &self.ctx.kv, &self.store);
        let mut entries = found.map_err(|e| e.to_mailbox_error())?;
        entries.truncate(req.max as usize);
        Ok(DirectoryResponse { entries })
    }
}
