//! The one check that refuses, before sending, a command the configured server kind lacks.

use super::Client;
use crate::error::{Error, Result};

impl Client {
    /// `Err(Error::NotSupportedByServer)` if the configured
    /// [`ServerKind`](crate::ServerKind) does not answer `command`. Called first by every
    /// command a proxy may lack, so nothing is written and the connection stays as it was:
    /// twemproxy would answer by closing it, which reads as a lost connection.
    pub(super) fn refuse_unsupported(&self, command: &'static str) -> Result<()> {
        let server = self.config.server_kind();
        if server.supports(command) {
            Ok(())
        } else {
            Err(Error::NotSupportedByServer { command, server })
        }
    }
}
