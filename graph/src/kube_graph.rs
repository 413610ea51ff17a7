//! Kubernetes facts the posture checks read; they live with the Kubernetes pass of graph building
//! ([`crate::build::kube`]).

pub(crate) use crate::build::kube::{
    cluster_role_rules, find_aso, holds_client_secret, Aso, ASO_CREDENTIAL, ASO_SETTINGS,
};
