//! What every contract version shares: the calls (unchanged since 0.1.0) and the conversions to
//! core's types for the parts no version has changed (statuses, blocks, working hours, errors,
//! directory entries, health). wasmtime's bindgen makes distinct Rust types per version even where
//! the WIT is identical, so each `since_v*` module expands these for its own bindings instead of
//! repeating the same code.

/// For a version's bindings module `$generated`: the `Component` wrapper with one method per
/// export whose signature is unchanged since 0.1.0. The version module provides `query_of` (core
/// query -> its query), `entry_kind`, and `From` impls from its types to core's.
macro_rules! calls_since_v0_1_0 {
    ($generated:ident) => {
        /// A component exporting this version of the contract, pre-instantiated.
        pub struct Component($generated::CalendarProviderPre<HostState>);

        /// What a call returns: a trap, or the provider's answer in core's terms.
        type Answer<T> = wasmtime::Result<Result<T, CallFailure>>;

        impl Component {
            /// Bind `pre` if it exports this version; the error says why not.
            pub fn new(pre: InstancePre<HostState>) -> wasmtime::Result<Self> {
                $generated::CalendarProviderPre::new(pre).map(Component)
            }

            /// `describe`.
            pub async fn describe(&self, store: &mut Store<HostState>) -> wasmtime::Result<ProviderInfo> {
                let p = self.0.instantiate_async(&mut *store).await?;
                Ok(p.freebusy_provider_provider().call_describe(store).await?.into())
            }

            /// `get-schedules`.
            pub async fn get_schedules(
                &self,
                store: &mut Store<HostState>,
                settings: &Vec<(String, String)>,
                query: &Query,
            ) -> Answer<Vec<MailboxAnswer>> {
                let p = self.0.instantiate_async(&mut *store).await?;
                let answer =
                    p.freebusy_provider_provider().call_get_schedules(store, settings, &query_of(query)).await?;
                Ok(answer.map(|s| s.into_iter().map(Into::into).collect()).map_err(Into::into))
            }

            /// `search-directory`.
            pub async fn search_directory(
                &self,
                store: &mut Store<HostState>,
                settings: &Vec<(String, String)>,
                prefix: &str,
                kind: EntryKind,
                max: u32,
            ) -> Answer<Vec<DirectoryEntry>> {
                let p = self.0.instantiate_async(&mut *store).await?;
                let answer = p
                    .freebusy_provider_provider()
                    .call_search_directory(store, settings, prefix, entry_kind(kind), max)
                    .await?;
                Ok(answer.map(|e| e.into_iter().map(Into::into).collect()).map_err(Into::into))
            }

            /// `check`.
            pub async fn check(
                &self,
                store: &mut Store<HostState>,
                settings: &Vec<(String, String)>,
            ) -> Answer<Health> {
                let p = self.0.instantiate_async(&mut *store).await?;
                let answer = p.freebusy_provider_provider().call_check(store, settings).await?;
                Ok(answer.map(Into::into).map_err(Into::into))
            }
        }
    };
}

pub(crate) use calls_since_v0_1_0;

/// `impl From<$wit::T> for core::T` for every type unchanged since 0.1.0, where `$wit` names a
/// version's generated `freebusy::provider::types` module; `entry_kind` (core -> `$wit`); and
/// `answer` and `info`, which convert the two records later versions extended, taking the part
/// that differs as a closure.
macro_rules! types_since_v0_1_0 {
    ($wit:ident) => {
        /// A schedule in core's terms; `merged_view` reads the view where the version has one.
        fn answer(
            s: $wit::Schedule,
            merged_view: impl FnOnce(&$wit::MailboxSchedule) -> Option<String>,
        ) -> MailboxAnswer {
            MailboxAnswer {
                mailbox: s.mailbox,
                outcome: match s.outcome {
                    Ok(ms) => Ok(MailboxSchedule {
                        merged_view: merged_view(&ms),
                        blocks: ms.blocks.into_iter().map(Into::into).collect(),
                        working_hours: ms.working_hours.map(Into::into),
                    }),
                    Err(e) => Err(e.into()),
                },
            }
        }

        /// A provider's self-description in core's terms; `upstream_max` reads the limit the
        /// upstream accepts where the version has one.
        fn info(i: $wit::ProviderInfo, upstream_max: impl FnOnce(&$wit::Limits) -> u32) -> ProviderInfo {
            ProviderInfo {
                limits: Limits {
                    upstream_max_mailboxes: upstream_max(&i.limits),
                    max_mailboxes: i.limits.max_mailboxes,
                    max_window_days: i.limits.max_window_days,
                },
                name: i.name,
                version: i.version,
                description: i.description,
                settings: i.settings.into_iter().map(Into::into).collect(),
                endpoint_settings: i.endpoint_settings,
            }
        }

        impl From<$wit::SettingSpec> for SettingSpec {
            fn from(s: $wit::SettingSpec) -> Self {
                SettingSpec {
                    name: s.name,
                    description: s.description,
                    required: s.required,
                    secret: s.secret,
                    default_value: s.default_value,
                }
            }
        }

        /// A directory kind in this version's terms.
        pub(super) fn entry_kind(kind: EntryKind) -> $wit::EntryKind {
            match kind {
                EntryKind::Person => $wit::EntryKind::Person,
                EntryKind::Room => $wit::EntryKind::Room,
            }
        }

        impl From<$wit::ProviderError> for CallFailure {
            fn from(e: $wit::ProviderError) -> Self {
                match e {
                    $wit::ProviderError::Throttled(ms) => CallFailure::Throttled(ms),
                    $wit::ProviderError::AuthFailed(m) => CallFailure::AuthFailed(m),
                    $wit::ProviderError::Misconfigured(m) => CallFailure::Misconfigured(m),
                    $wit::ProviderError::Unavailable(m) => CallFailure::Unavailable(m),
                    $wit::ProviderError::Unsupported(m) => CallFailure::Unsupported(m),
                }
            }
        }

        impl From<$wit::MailboxError> for MailboxError {
            fn from(e: $wit::MailboxError) -> Self {
                use freebusy_core::ErrorCode;
                match e {
                    $wit::MailboxError::NotFound(m) => MailboxError::new(ErrorCode::NotFound, m),
                    $wit::MailboxError::AccessDenied(m) => MailboxError::new(ErrorCode::AccessDenied, m),
                    $wit::MailboxError::TooLarge(m) => MailboxError::new(ErrorCode::TooLarge, m),
                    $wit::MailboxError::Other(m) => MailboxError::new(ErrorCode::Other, m),
                }
            }
        }

        impl From<$wit::BusyBlock> for Block {
            fn from(b: $wit::BusyBlock) -> Self {
                Block {
                    start: b.start,
                    end: b.end,
                    status: match b.status {
                        $wit::Availability::Free => Availability::Free,
                        $wit::Availability::Tentative => Availability::Tentative,
                        $wit::Availability::Busy => Availability::Busy,
                        $wit::Availability::OutOfOffice => Availability::OutOfOffice,
                        $wit::Availability::WorkingElsewhere => Availability::WorkingElsewhere,
                        $wit::Availability::Unknown => Availability::Unknown,
                    },
                    subject: b.subject,
                    location: b.location,
                    is_private: b.is_private,
                }
            }
        }

        impl From<$wit::WorkingHours> for WorkingHours {
            fn from(w: $wit::WorkingHours) -> Self {
                WorkingHours {
                    days: w
                        .days
                        .into_iter()
                        .map(|d| match d {
                            $wit::Weekday::Monday => Weekday::Monday,
                            $wit::Weekday::Tuesday => Weekday::Tuesday,
                            $wit::Weekday::Wednesday => Weekday::Wednesday,
                            $wit::Weekday::Thursday => Weekday::Thursday,
                            $wit::Weekday::Friday => Weekday::Friday,
                            $wit::Weekday::Saturday => Weekday::Saturday,
                            $wit::Weekday::Sunday => Weekday::Sunday,
                        })
                        .collect(),
                    start_minute: w.start_minute,
                    end_minute: w.end_minute,
                    time_zone: w.time_zone,
                }
            }
        }

        impl From<$wit::Health> for Health {
            fn from(h: $wit::Health) -> Self {
                Health { summary: h.summary, granted: h.granted, missing: h.missing }
            }
        }

        impl From<$wit::DirectoryEntry> for DirectoryEntry {
            fn from(e: $wit::DirectoryEntry) -> Self {
                DirectoryEntry {
                    kind: match e.kind {
                        $wit::EntryKind::Person => EntryKind::Person,
                        $wit::EntryKind::Room => EntryKind::Room,
                    },
                    display_name: e.display_name,
                    address: e.address,
                    capacity: e.capacity,
                    building: e.building,
                }
            }
        }
    };
}

pub(crate) use types_since_v0_1_0;
