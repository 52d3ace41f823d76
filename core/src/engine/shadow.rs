//! Shadow mode: a candidate atlas loaded beside the live atlas of the same `atlas_id` judges
//! every resolve and execute too; the live decision is enforced, and each difference is recorded
//! in TRACE (`policy.shadow_diff`) and counted (`stats().shadow_diffs`), so a policy change can
//! be tried on real traffic before it enforces. With no shadow loaded the hot path pays one
//! emptiness check.
//!
//! Shadow verdicts are the policy ladder's (deny, approval under an allow, allow, default
//! deny); rate limits are not simulated (their windows belong to the live atlas), so a live
//! `rate_limit_exceeded` is compared as the allow underneath it.

use super::conditions::EvalCtx;
use super::resolution::{Resolution, Verdict, VerdictKind};
use super::Resolver;
use crate::atlas::compile::{CompiledAtlas, NO_POLICY};
use crate::atlas::{manifest_from_dir, manifest_from_json, AtlasManifest};
use crate::error::{CraError, ErrorCode, Result};
use crate::trace::{EventPayload, EventType, SessionTrace};
use rustc_hash::FxHashMap;
use serde_json::{json, Value};
use std::path::Path;
use std::sync::atomic::Ordering;
use std::sync::Arc;

/// Shadow atlases by the atlas id they shadow.
pub(crate) type Shadows = FxHashMap<Arc<str>, Arc<CompiledAtlas>>;

/// A verdict's name for comparisons (`allowed`, `denied`, `pending_approval`).
fn name(v: &Verdict) -> &'static str {
    match v.kind {
        VerdictKind::Allowed => "allowed",
        VerdictKind::Pending => "pending_approval",
        VerdictKind::Denied(_) if v.allowed_under_limit() => "allowed",
        VerdictKind::Denied(_) => "denied",
    }
}

fn policy_id(atlas: &CompiledAtlas, v: &Verdict) -> Option<String> {
    let p = if v.allowed_under_limit() {
        v.allow_policy
    } else {
        v.policy
    };
    (p != NO_POLICY).then(|| atlas.policies[p as usize].id.to_string())
}

impl Resolver {
    /// Loads `manifest` as the shadow of the live atlas with the same `atlas_id` (replacing an
    /// earlier shadow). Errors: `INVALID_ATLAS`, `ATLAS_NOT_FOUND` (no live atlas has that id).
    pub fn load_shadow(&self, manifest: AtlasManifest) -> Result<super::AtlasInfo> {
        let compiled = Arc::new(CompiledAtlas::compile(manifest)?);
        let _guard = self.load_lock.lock();
        if !self.atlases.load().by_id.contains_key(&compiled.id) {
            return Err(CraError::at(
                ErrorCode::AtlasNotFound,
                "/atlas_id",
                format!("no live atlas {:?} to shadow; load it first", &*compiled.id),
            ));
        }
        let m = &compiled.manifest;
        let info = super::AtlasInfo {
            atlas_id: m.atlas_id.clone(),
            version: m.version.clone(),
            actions: m.actions.len(),
            policies: m.policies.len(),
            context_packs: m.context_packs.len(),
            capabilities: m.capabilities.len(),
            replaced: self.shadows.load().contains_key(&compiled.id),
            warnings: compiled.warnings.clone(),
        };
        let mut next: Shadows = (**self.shadows.load()).clone();
        next.insert(compiled.id.clone(), compiled);
        self.shadows.store(Arc::new(next));
        Ok(info)
    }

    /// [`Resolver::load_shadow`] from JSON text.
    pub fn load_shadow_json(&self, bytes: &[u8]) -> Result<super::AtlasInfo> {
        self.load_shadow(manifest_from_json(bytes)?)
    }

    /// [`Resolver::load_shadow`] from an atlas directory (the safe loader).
    pub fn load_shadow_dir(&self, path: impl AsRef<Path>) -> Result<super::AtlasInfo> {
        self.load_shadow(manifest_from_dir(path.as_ref())?)
    }

    /// Unloads the shadow of `atlas_id`. Errors: `ATLAS_NOT_FOUND`.
    pub fn unload_shadow(&self, atlas_id: &str) -> Result<()> {
        let _guard = self.load_lock.lock();
        let mut next: Shadows = (**self.shadows.load()).clone();
        if next.remove(atlas_id).is_none() {
            return Err(CraError::at(
                ErrorCode::AtlasNotFound,
                "/atlas_id",
                format!("no shadow of atlas {atlas_id:?} is loaded"),
            ));
        }
        self.shadows.store(Arc::new(next));
        Ok(())
    }

    /// The shadow verdict of one action, if its atlas has a shadow (`None` otherwise).
    fn shadow_verdict<'s>(
        shadows: &'s Shadows,
        atlas_id: &str,
        action_id: &str,
        ctx: &EvalCtx<'_>,
    ) -> Option<(&'s CompiledAtlas, Option<Verdict>)> {
        let shadow = shadows.get(atlas_id)?;
        let v = shadow
            .action_index
            .get(action_id)
            .map(|&idx| super::resolve::ladder(shadow, idx, &shadow.actions[idx as usize], ctx));
        Some((shadow, v))
    }

    /// After a resolve: compares every in-scope action with the shadows; records the diffs.
    pub(crate) fn shadow_resolve(
        &self,
        res: &Resolution,
        trace: &Arc<SessionTrace>,
        span: &Arc<str>,
    ) {
        let shadows = self.shadows.load();
        if shadows.is_empty() {
            return;
        }
        let ctx = res.eval_ctx();
        let mut diffs = Vec::new();
        for (atlas, action, v) in res.iter() {
            let Some((shadow, sv)) = Self::shadow_verdict(&shadows, &atlas.id, &action.id, &ctx)
            else {
                continue;
            };
            if let Some(d) = diff(atlas, &action.id, &v, shadow, sv.as_ref()) {
                diffs.push(d);
            }
        }
        self.record_shadow_diffs(
            diffs,
            &res.resolution_id,
            "resolve",
            trace,
            span,
            res.timestamp_us,
        );
    }

    /// During an execute: compares the live verdict on one call with the shadow's.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn shadow_execute(
        &self,
        res: &Resolution,
        atlas: &CompiledAtlas,
        action_id: &str,
        live: &Verdict,
        trace: &Arc<SessionTrace>,
        span: &Arc<str>,
        now: i64,
    ) {
        let shadows = self.shadows.load();
        if shadows.is_empty() {
            return;
        }
        let ctx = EvalCtx {
            now_us: now,
            ..res.eval_ctx()
        };
        let Some((shadow, sv)) = Self::shadow_verdict(&shadows, &atlas.id, action_id, &ctx) else {
            return;
        };
        if let Some(d) = diff(atlas, action_id, live, shadow, sv.as_ref()) {
            self.record_shadow_diffs(vec![d], &res.resolution_id, "execute", trace, span, now);
        }
    }

    fn record_shadow_diffs(
        &self,
        diffs: Vec<Value>,
        resolution_id: &str,
        operation: &str,
        trace: &Arc<SessionTrace>,
        span: &Arc<str>,
        ts: i64,
    ) {
        if diffs.is_empty() {
            return;
        }
        self.counters
            .shadow_diffs
            .fetch_add(diffs.len() as u64, Ordering::Relaxed);
        let payload =
            json!({"operation": operation, "resolution_id": resolution_id, "diffs": diffs});
        self.emit(
            trace,
            span,
            false,
            ts,
            EventType::PolicyShadowDiff,
            EventPayload::Json(payload),
        );
    }
}

/// One action's difference, or `None` when live and shadow agree.
fn diff(
    live_atlas: &CompiledAtlas,
    action_id: &str,
    live: &Verdict,
    shadow: &CompiledAtlas,
    sv: Option<&Verdict>,
) -> Option<Value> {
    let (shadow_name, shadow_policy) = match sv {
        Some(v) => (name(v), policy_id(shadow, v)),
        None => ("absent", None),
    };
    let live_name = name(live);
    if live_name == shadow_name {
        return None;
    }
    Some(json!({
        "action_id": action_id,
        "atlas_id": &*live_atlas.id,
        "live": live_name,
        "live_policy_id": policy_id(live_atlas, live),
        "shadow": shadow_name,
        "shadow_policy_id": shadow_policy,
        "shadow_version": &*shadow.version,
    }))
}
