//! Installing CustomResourceDefinitions and waiting until the API server serves them.

use std::time::Duration;

use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::runtime::wait::{await_condition, conditions};
use kube::{Api, Client};
use serde_json::Value;

use crate::apply::{Applier, ApplyError, ApplyOptions};

/// Why CRDs could not be installed.
#[derive(Debug, thiserror::Error)]
pub enum CrdError {
    /// A document is not a CRD.
    #[error("{object} is not a CustomResourceDefinition (apiextensions.k8s.io/v1)")]
    NotACrd {
        /// The document's identity.
        object: String,
    },
    /// Server-side apply failed.
    #[error(transparent)]
    Apply(#[from] ApplyError),
    /// The CRD never became `Established`.
    #[error("CustomResourceDefinition {name} was not Established within {}s{detail}", timeout.as_secs())]
    NotEstablished {
        /// The CRD's name.
        name: String,
        /// How long we waited.
        timeout: Duration,
        /// The watch error, if the wait failed rather than timed out.
        detail: String,
    },
}

/// Server-side applies every CRD (as field manager `field_manager`, taking ownership of
/// conflicting fields, with strict validation) and waits until each is `Established`.
pub async fn install(
    client: &Client,
    crds: &[Value],
    field_manager: &str,
    timeout: Duration,
) -> Result<(), CrdError> {
    let applier = Applier::new(client.clone(), field_manager);
    let opts = ApplyOptions {
        force: true,
        ..ApplyOptions::default()
    };
    let mut names = Vec::with_capacity(crds.len());
    for crd in crds {
        let id = plinth_core::object::ObjectRef::from_value(crd);
        if id.kind != "CustomResourceDefinition" || id.api_version != "apiextensions.k8s.io/v1" {
            return Err(CrdError::NotACrd {
                object: id.to_string(),
            });
        }
        applier.apply(crd, &opts).await?;
        names.push(id.name);
    }
    let api: Api<CustomResourceDefinition> = Api::all(client.clone());
    for name in names {
        let wait = await_condition(api.clone(), &name, conditions::is_crd_established());
        match tokio::time::timeout(timeout, wait).await {
            Ok(Ok(_)) => {}
            Ok(Err(e)) => {
                return Err(CrdError::NotEstablished {
                    name,
                    timeout,
                    detail: format!(": {e}"),
                });
            }
            Err(_) => {
                return Err(CrdError::NotEstablished {
                    name,
                    timeout,
                    detail: String::new(),
                });
            }
        }
    }
    Ok(())
}
