//! User events (`user_*`, `avi:jira:*:user`): here `user` is the account the event is about,
//! not who acted, so only Forge's `atlassianId` can name an actor. The subject account stays in
//! the payload: the event row has no column for it.

use super::{
    Columns,
    fields::{Object, text_at},
};

pub(super) fn columns(body: &Object) -> Columns {
    Columns {
        actor_account_id: text_at(body, &["atlassianId"]),
        ..Columns::default()
    }
}
