//! `fold user create` and `fold user find`: a flock's users for operators, through the
//! same directory service as the back office (the same checks, the same first mail).
//! They need only the database, so they run beside `fold serve`.
use fold::app::AppState;
use fold::domain::directory::CreateUser;
use fold::domain::directory::LookupBy;
use fold::domain::user::{Role, User};
use secrecy::SecretString;

/// `fold user create`.
#[derive(clap::Args)]
pub struct NewUser {
    /// The flock's slug.
    slug: String,
    #[arg(long)]
    email: Option<String>,
    /// An E.164 number such as +35799123456.
    #[arg(long)]
    phone: Option<String>,
    /// Read the password from the first line of standard input (never from the command
    /// line, where other users of the machine could see it).
    #[arg(long)]
    password_stdin: bool,
    /// Generate a strong password and mail it to the user.
    #[arg(long, conflicts_with = "password_stdin")]
    generate_password: bool,
    /// Role `manager` (the back office, with --bo-access); default `client`.
    #[arg(long)]
    manager: bool,
    /// May use the flock's back office.
    #[arg(long)]
    bo_access: bool,
    #[arg(long)]
    first_name: Option<String>,
    #[arg(long)]
    last_name: Option<String>,
    /// Send no mail.
    #[arg(long)]
    no_mail: bool,
}

pub async fn create(state: &AppState, n: NewUser) -> Result<(), String> {
    let flock = state.flocks.get(&n.slug).await.map_err(|e| e.to_string())?;
    let password = if n.password_stdin {
        let mut line = String::new();
        std::io::stdin()
            .read_line(&mut line)
            .map_err(|e| format!("--password-stdin: {e}"))?;
        Some(SecretString::from(
            line.trim_end_matches(['\r', '\n']).to_owned(),
        ))
    } else {
        None
    };
    let c = CreateUser {
        email: n.email,
        phone: n.phone,
        password,
        generate_password: n.generate_password,
        send_email: Some(!n.no_mail),
        first_name: n.first_name,
        last_name: n.last_name,
        role: n.manager.then_some(Role::Manager),
        bo_access: n.bo_access.then_some(true),
        source: Some("fold-cli".into()),
        ..CreateUser::default()
    };
    let user = state
        .directory
        .create(&flock, c)
        .await
        .map_err(|e| e.to_string())?;
    println!("{}", line(&user));
    Ok(())
}

/// `fold user find`: exactly one of the identifiers.
#[derive(clap::Args)]
pub struct Find {
    /// The flock's slug.
    slug: String,
    #[arg(long)]
    email: Option<String>,
    #[arg(long)]
    phone: Option<String>,
    #[arg(long)]
    username: Option<String>,
    /// The user's id in the flock's own systems.
    #[arg(long)]
    external_id: Option<String>,
}

pub async fn find(state: &AppState, f: Find) -> Result<(), String> {
    let slug = f.slug;
    let flock = state.flocks.get(&slug).await.map_err(|e| e.to_string())?;
    let by = match (f.email, f.phone, f.username, f.external_id) {
        (Some(e), None, None, None) => LookupBy::Email(e),
        (None, Some(p), None, None) => LookupBy::Phone(p),
        (None, None, Some(u), None) => LookupBy::Username(u),
        (None, None, None, Some(x)) => LookupBy::ExternalId(x),
        _ => return Err("give exactly one of --email, --phone, --username, --external-id".into()),
    };
    match state.directory.lookup(&flock, by).await {
        Ok(user) => {
            println!("{}", line(&user));
            Ok(())
        }
        Err(fold::domain::user::UserError::NotFound) => {
            Err(format!("no user with that identifier in flock {slug}"))
        }
        Err(e) => Err(e.to_string()),
    }
}

/// One JSON line per user (no secret: no hash, no token).
fn line(u: &User) -> serde_json::Value {
    serde_json::json!({
        "id": u.id.0,
        "email": u.email,
        "phone": u.phone,
        "status": u.status.as_str(),
        "role": u.role.as_str(),
        "first_name": u.first_name,
        "last_name": u.last_name,
        "email_verified": u.email_verified,
        "created_at": u.created_at,
    })
}
