//! Raw SQL for invariant checks and for planting states no API makes (a legacy hash, a
//! manager role). The one place in the tests that reads or writes the database directly,
//! on its own connection to the test's database: every other step goes through HTTP.
#![allow(clippy::disallowed_methods)] // queries outside src/db/: the point of this file
use super::TestApp;
use sea_orm::{ConnectionTrait, Database, DatabaseConnection, EntityTrait, QueryResult, Statement};

/// A connection to one test database.
pub struct Sql(DatabaseConnection);

impl TestApp {
    /// A fresh connection to this app's database.
    pub async fn sql(&self) -> Sql {
        Sql::connect(&self.db_url).await
    }
}

impl Sql {
    pub async fn connect(url: &str) -> Sql {
        Sql(Database::connect(url).await.expect("connect test database"))
    }

    fn stmt(&self, sql: &str) -> Statement {
        Statement::from_string(self.0.get_database_backend(), sql.to_owned())
    }

    pub async fn exec(&self, sql: &str) -> u64 {
        self.0
            .execute_raw(self.stmt(sql))
            .await
            .unwrap()
            .rows_affected()
    }

    pub async fn rows(&self, sql: &str) -> Vec<QueryResult> {
        self.0.query_all_raw(self.stmt(sql)).await.unwrap()
    }

    /// The one row `sql` returns.
    pub async fn row(&self, sql: &str) -> QueryResult {
        self.0.query_one_raw(self.stmt(sql)).await.unwrap().unwrap()
    }

    /// The first column of the one row `sql` returns, as an integer.
    pub async fn scalar(&self, sql: &str) -> i64 {
        self.row(sql).await.try_get_by_index::<i64>(0).unwrap()
    }

    /// Every user row, of every flock.
    pub async fn users(&self) -> Vec<entity::user::Model> {
        entity::user::Entity::find().all(&self.0).await.unwrap()
    }

    pub async fn insert_user(&self, row: entity::user::Model) {
        use sea_orm::IntoActiveModel;
        entity::user::Entity::insert(row.into_active_model())
            .exec(&self.0)
            .await
            .unwrap();
    }

    pub async fn close(self) {
        self.0.close().await.ok();
    }
}

/// A fresh PostgreSQL database on the server `admin_url` names; its URL.
pub async fn fresh_postgres(admin_url: &str) -> String {
    let name = format!("fold_test_{}", uuid::Uuid::new_v4().simple());
    let admin = Sql::connect(admin_url).await;
    admin.exec(&format!("CREATE DATABASE {name}")).await;
    admin.close().await;
    let base = admin_url.rsplit_once('/').map_or(admin_url, |(b, _)| b);
    format!("{base}/{name}")
}
