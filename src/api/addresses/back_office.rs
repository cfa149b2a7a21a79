//! Any user's addresses, their change requests and the flock's queue, from the back
//! office (flock API key; scopes `users_addresses_*`, `users_address_requests_*`,
//! `address_requests_*`).
use super::*;
use crate::api::security::BackOfficeAuth;

pub struct AddressesApi {
    pub addresses: AddressService,
}

#[OpenApi(tag = "ApiTags::Addresses")]
impl AddressesApi {
    /// A user's addresses (scope `users_addresses_list`).
    #[oai(
        path = "/api/v1/:flock/directory/users/:user_id/addresses",
        method = "get",
        operation_id = "users_addresses_list"
    )]
    async fn list(
        &self,
        auth: BackOfficeAuth,
        /// The flock's slug.
        flock: tenant::Path,
        /// The user's id.
        user_id: Path<Uuid>,
        /// Only addresses of this type.
        #[oai(name = "type", validator(max_length = 32))]
        kind: Query<Option<String>>,
    ) -> ApiResult<Json<AddressList>> {
        auth.allow("users_addresses_list")?;
        let list = self
            .addresses
            .list(&flock, UserId(user_id.0), kind.0.as_deref())
            .await?;
        Ok(Json(AddressList {
            addresses: list.into_iter().map(Into::into).collect(),
        }))
    }

    /// Add an address to a user (scope `users_addresses_create`).
    #[oai(
        path = "/api/v1/:flock/directory/users/:user_id/addresses",
        method = "post",
        operation_id = "users_addresses_create"
    )]
    async fn add(
        &self,
        auth: BackOfficeAuth,
        /// The flock's slug.
        flock: tenant::Path,
        /// The user's id.
        user_id: Path<Uuid>,
        body: Json<NewAddress>,
    ) -> ApiResult<CreatedAddress> {
        auth.allow("users_addresses_create")?;
        let (kind, fields) = new_address(body.0);
        let a = self
            .addresses
            .create(&flock, UserId(user_id.0), &kind, fields)
            .await?;
        Ok(CreatedAddress::Created(Json(a.into())))
    }

    /// Change a user's address at once, whatever its type (scope
    /// `users_addresses_update`).
    #[oai(
        path = "/api/v1/:flock/directory/users/:user_id/addresses/:address_id",
        method = "patch",
        operation_id = "users_addresses_update"
    )]
    async fn change(
        &self,
        auth: BackOfficeAuth,
        /// The flock's slug.
        flock: tenant::Path,
        /// The user's id.
        user_id: Path<Uuid>,
        /// The address's id.
        address_id: Path<Uuid>,
        body: Json<AddressPatchBody>,
    ) -> ApiResult<UpdatedAddress> {
        auth.allow("users_addresses_update")?;
        let u = self
            .addresses
            .update(
                &flock,
                UserId(user_id.0),
                address_id.0,
                patch_of!(body.0),
                Viewer::BackOffice,
            )
            .await?;
        Ok(u.into())
    }

    /// Delete a user's address (scope `users_addresses_delete`).
    #[oai(
        path = "/api/v1/:flock/directory/users/:user_id/addresses/:address_id",
        method = "delete",
        operation_id = "users_addresses_delete"
    )]
    async fn delete(
        &self,
        auth: BackOfficeAuth,
        /// The flock's slug.
        flock: tenant::Path,
        /// The user's id.
        user_id: Path<Uuid>,
        /// The address's id.
        address_id: Path<Uuid>,
    ) -> ApiResult<Deleted> {
        auth.allow("users_addresses_delete")?;
        self.addresses
            .delete(&flock, UserId(user_id.0), address_id.0)
            .await?;
        Ok(Deleted::Deleted)
    }

    /// File a change request for a user's address, by id or by type (scope
    /// `users_address_requests_create`); 404 `parent_address_not_found` when the user
    /// has no such address to change.
    #[oai(
        path = "/api/v1/:flock/directory/users/:user_id/address-requests",
        method = "post",
        operation_id = "users_address_requests_create"
    )]
    async fn request(
        &self,
        auth: BackOfficeAuth,
        /// The flock's slug.
        flock: tenant::Path,
        /// The user's id.
        user_id: Path<Uuid>,
        body: Json<NewRequestBody>,
    ) -> ApiResult<CreatedRequest> {
        auth.allow("users_address_requests_create")?;
        let b = body.0;
        let target = RequestTarget {
            address: b.address_id,
            kind: b.kind.clone(),
        };
        let r = self
            .addresses
            .request(&flock, UserId(user_id.0), target, patch_of!(b))
            .await?;
        Ok(CreatedRequest::Created(Json(r.into())))
    }

    /// A user's change requests, newest first (scope `users_address_requests_list`).
    #[oai(
        path = "/api/v1/:flock/directory/users/:user_id/address-requests",
        method = "get",
        operation_id = "users_address_requests_list"
    )]
    async fn requests_of(
        &self,
        auth: BackOfficeAuth,
        /// The flock's slug.
        flock: tenant::Path,
        /// The user's id.
        user_id: Path<Uuid>,
    ) -> ApiResult<Json<RequestList>> {
        auth.allow("users_address_requests_list")?;
        let list = self
            .addresses
            .requests_of(&flock, UserId(user_id.0))
            .await?;
        Ok(Json(RequestList {
            requests: list.into_iter().map(Into::into).collect(),
        }))
    }

    /// The flock's change requests in a status (default `pending`), oldest first, a
    /// page at a time (scope `address_requests_list`).
    #[oai(
        path = "/api/v1/:flock/directory/address-requests",
        method = "get",
        operation_id = "address_requests_list"
    )]
    async fn queue(
        &self,
        auth: BackOfficeAuth,
        /// The flock's slug.
        flock: tenant::Path,
        status: Query<Option<RequestStatusWire>>,
        /// Page size, 1 to 1,000 (default 50).
        limit: Query<Option<u64>>,
        /// `next` of the previous page (same status).
        #[oai(validator(max_length = 4096))]
        cursor: Query<Option<String>>,
    ) -> ApiResult<Json<RequestPage>> {
        auth.allow("address_requests_list")?;
        let status = match status.0 {
            None | Some(RequestStatusWire::Pending) => RequestStatus::Pending,
            Some(RequestStatusWire::Accepted) => RequestStatus::Accepted,
            Some(RequestStatusWire::Rejected) => RequestStatus::Rejected,
        };
        let page = self
            .addresses
            .queue(&flock, status, limit.0, cursor.0)
            .await?;
        Ok(Json(page.into()))
    }

    /// Accept a pending request: the address takes the requested fields (scope
    /// `address_requests_accept`).
    #[oai(
        path = "/api/v1/:flock/directory/address-requests/:request_id/accept",
        method = "post",
        operation_id = "address_requests_accept"
    )]
    async fn accept(
        &self,
        auth: BackOfficeAuth,
        /// The flock's slug.
        flock: tenant::Path,
        /// The request's id.
        request_id: Path<Uuid>,
    ) -> ApiResult<Json<RequestView>> {
        auth.allow("address_requests_accept")?;
        let r = self.addresses.decide(&flock, request_id.0, true).await?;
        Ok(Json(r.into()))
    }

    /// Reject a pending request: the address stays as it is (scope
    /// `address_requests_reject`).
    #[oai(
        path = "/api/v1/:flock/directory/address-requests/:request_id/reject",
        method = "post",
        operation_id = "address_requests_reject"
    )]
    async fn reject(
        &self,
        auth: BackOfficeAuth,
        /// The flock's slug.
        flock: tenant::Path,
        /// The request's id.
        request_id: Path<Uuid>,
    ) -> ApiResult<Json<RequestView>> {
        auth.allow("address_requests_reject")?;
        let r = self.addresses.decide(&flock, request_id.0, false).await?;
        Ok(Json(r.into()))
    }
}
