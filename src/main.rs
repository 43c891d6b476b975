//! The `latchkey` command: parses the CLI and hands each command to
//! `latchkey::commands`.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use latchkey::commands::import_django::{self, DjangoSource};
use latchkey::commands::{self, groups, operations, users};
use latchkey::db::import::DjangoTables;
use latchkey::settings::Settings;
use latchkey::telemetry;

#[derive(Parser)]
#[command(
    name = "latchkey",
    version,
    about = "A Simple JWT-compatible access/refresh token service"
)]
struct Cli {
    /// Directory holding <environment>.toml overlays.
    #[arg(
        long,
        env = "LATCHKEY_CONFIG_DIR",
        default_value = "config",
        global = true
    )]
    config_dir: PathBuf,
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand)]
enum Command {
    /// Serve the API (the default).
    Serve,
    /// Apply pending database migrations.
    Migrate,
    /// Manage users.
    #[command(subcommand)]
    Users(UsersCommand),
    /// Manage the groups users belong to.
    #[command(subcommand)]
    Groups(GroupsCommand),
    /// Delete expired refresh-token rows, in batches.
    FlushExpired,
    /// Manage signing keys.
    #[command(subcommand)]
    Keys(KeysCommand),
    /// Exit 0 when the server answers ready (GET /readyz), else 1: a
    /// container health check for images without curl.
    Healthcheck {
        /// host:port of the server [default: server.bind, 0.0.0.0 read as 127.0.0.1].
        #[arg(long)]
        address: Option<String>,
        /// Ask only whether the process answers (GET /healthz), not whether
        /// its database does: for orchestrators that restart what fails.
        #[arg(long)]
        live: bool,
    },
    /// Print stored audit events (audit.store = true), newest first, one
    /// JSON object per line.
    Audit {
        /// Only this user's events.
        #[arg(long, conflicts_with = "user_id")]
        user: Option<String>,
        /// Only the events of the user with this id (a deleted user too).
        #[arg(long)]
        user_id: Option<i64>,
        /// Only events of this kind (login_succeeded, login_failed,
        /// refresh_reuse_detected, logout, logout_all, session_ended,
        /// password_changed, user_created, user_changed, user_activated,
        /// user_deactivated, user_deleted, key_set_reloaded,
        /// key_set_reload_refused).
        #[arg(long)]
        event: Option<String>,
        /// Only events since this time (2026-12-01T09:00:00Z), date
        /// (2026-12-01) or age (90m, 12h, 7d).
        #[arg(long)]
        since: Option<String>,
        /// At most this many events.
        #[arg(long, default_value_t = 100)]
        limit: i64,
    },
}

#[derive(Subcommand)]
enum KeysCommand {
    /// Write a new private key (PKCS#8 PEM) and print its kid and the
    /// configuration that adds it.
    Generate {
        /// EdDSA, ES256, ES384, RS256, RS384, RS512, PS256, PS384 or PS512.
        #[arg(long, default_value = "EdDSA")]
        alg: String,
        /// Where to write the key [default: <data_dir>/keys/<kid>.pem].
        #[arg(long)]
        out: Option<PathBuf>,
    },
}

#[derive(Subcommand)]
enum GroupsCommand {
    /// List the groups and how many members each has.
    List,
    /// Create a group.
    Create { name: String },
    /// Delete a group; its members' next access tokens no longer name it.
    Delete { name: String },
}

#[derive(Subcommand)]
enum UsersCommand {
    /// Create a user; prompts for the password on a terminal.
    Create(users::UserToCreate),
    /// Show a user and their profile, as JSON.
    Show { name: String },
    /// Make these the user's groups (none: no group).
    SetGroups {
        name: String,
        #[arg(long = "group")]
        groups: Vec<String>,
    },
    /// Replace the user's claims object (none: an empty one).
    SetClaims {
        name: String,
        /// key=value; a value that reads as JSON is taken as such.
        #[arg(long = "claim")]
        claims: Vec<String>,
    },
    /// Change a user's password.
    SetPassword {
        name: String,
        #[arg(long)]
        password_stdin: bool,
    },
    /// Stop a user from logging in or using their tokens.
    Deactivate { name: String },
    /// Let a deactivated user log in again.
    Activate { name: String },
    /// Delete a user and their refresh tokens.
    Delete { name: String },
    /// List users.
    List,
    /// Print the user's DRF token key (drf_token), the one their next
    /// login would get, creating it if they have none.
    Token {
        name: String,
        /// Replace every key of the user with a new one (the old ones stop
        /// working on every instance within cache.sync_interval_ms).
        #[arg(long)]
        rotate: bool,
    },
    /// Import a Django project's users and groups as they are: ids,
    /// usernames, password hashes, flags, names, dates and memberships.
    /// Idempotent: a second run updates what changed and creates what is new.
    ImportDjango {
        /// The Django database: postgres://... or the path of its SQLite file.
        #[arg(
            long = "from",
            conflicts_with = "dumpdata",
            required_unless_present = "dumpdata"
        )]
        from: Option<String>,
        /// Or the JSON of `manage.py dumpdata auth.user auth.group` (add
        /// authtoken.token to bring DRF's token keys).
        #[arg(long)]
        dumpdata: Option<std::path::PathBuf>,
        /// The users table, for a custom user model that keeps Django's columns.
        #[arg(long, default_value = "auth_user")]
        user_table: String,
        #[arg(long, default_value = "auth_group")]
        group_table: String,
        /// The table of who is in which group (user_id, group_id).
        #[arg(long, default_value = "auth_user_groups")]
        membership_table: String,
        /// DRF's token keys (rest_framework.authtoken), brought as digests;
        /// a database without the table has none.
        #[arg(long, default_value = "authtoken_token")]
        drf_key_table: String,
        /// Say what would change, and change nothing.
        #[arg(long)]
        dry_run: bool,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    if let Some(Command::Healthcheck { address, live }) = &cli.command {
        // A health check must not fail on a configuration staged for the
        // next reload: it needs the address at most, and reads it leniently.
        let bind = std::env::var("LATCHKEY_SERVER__BIND")
            .ok()
            .or_else(|| Settings::load(&cli.config_dir).ok().map(|s| s.server.bind))
            .unwrap_or_else(|| "127.0.0.1:8000".to_owned());
        return match operations::healthcheck(address.as_deref(), &bind, *live) {
            Ok(()) => ExitCode::SUCCESS,
            Err(error) => {
                eprintln!("latchkey: {error:#}");
                ExitCode::FAILURE
            }
        };
    }
    let settings = match Settings::load(&cli.config_dir) {
        Ok(settings) => settings,
        Err(error) => {
            eprintln!("latchkey: {error}");
            return ExitCode::from(2);
        }
    };
    telemetry::init(&settings.log);
    let outcome = match cli.command.unwrap_or(Command::Serve) {
        Command::Serve => commands::serve(settings),
        Command::Migrate => commands::migrate(&settings),
        Command::FlushExpired => commands::flush_expired(&settings),
        // Answered before the settings loaded.
        Command::Healthcheck { .. } => Ok(()),
        Command::Audit {
            user,
            user_id,
            event,
            since,
            limit,
        } => operations::audit(
            &settings,
            operations::AuditQuery {
                user,
                user_id,
                event,
                since,
                limit: limit.clamp(1, 100_000),
            },
        ),
        Command::Keys(KeysCommand::Generate { alg, out }) => {
            commands::generate_key(&settings, &alg, out)
        }
        Command::Users(command) => match command {
            UsersCommand::Create(user) => users::create_user(&settings, user),
            UsersCommand::Show { name } => users::show_user(&settings, &name),
            UsersCommand::SetGroups { name, groups } => {
                users::set_groups(&settings, &name, &groups)
            }
            UsersCommand::SetClaims { name, claims } => {
                users::set_claims(&settings, &name, &claims)
            }
            UsersCommand::SetPassword {
                name,
                password_stdin,
            } => users::set_password(&settings, &name, password_stdin),
            UsersCommand::Deactivate { name } => users::set_active(&settings, &name, false),
            UsersCommand::Activate { name } => users::set_active(&settings, &name, true),
            UsersCommand::Delete { name } => users::delete_user(&settings, &name),
            UsersCommand::List => users::list_users(&settings),
            UsersCommand::Token { name, rotate } => users::drf_key(&settings, &name, rotate),
            UsersCommand::ImportDjango {
                from,
                dumpdata,
                user_table,
                group_table,
                membership_table,
                drf_key_table,
                dry_run,
            } => match (from, dumpdata) {
                (Some(url), _) => {
                    let tables = DjangoTables {
                        users: user_table,
                        groups: group_table,
                        memberships: membership_table,
                        drf_keys: drf_key_table,
                    };
                    let source = DjangoSource::Database { url, tables };
                    import_django::import_django(&settings, source, dry_run)
                }
                (None, Some(path)) => {
                    import_django::import_django(&settings, DjangoSource::Dump(path), dry_run)
                }
                (None, None) => Err(anyhow::anyhow!("give --from or --dumpdata")),
            },
        },
        Command::Groups(command) => match command {
            GroupsCommand::List => groups::list(&settings),
            GroupsCommand::Create { name } => groups::create(&settings, &name),
            GroupsCommand::Delete { name } => groups::delete(&settings, &name),
        },
    };
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("latchkey: {error:#}");
            ExitCode::FAILURE
        }
    }
}
