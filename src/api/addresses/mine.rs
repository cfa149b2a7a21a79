//! The signed-in user's own addresses and change requests (bearer).
use super::*;
use crate::api::security::UserAuth;

pub struct MyAddressesApi {
    pub addresses: AddressService,
}

#[OpenApi(tag = "ApiTags::Addresses")]
impl MyAddressesApi {
    /// The signed-in user's addresses (of one type, if given), oldest first.
    #[oai(
        path = "/api/v1/:flock/user/addresses",
        method = "get",
        operation_id = "user_addresses_list"
    )]
    async fn mine(
        &self,
        /// The flock's slug.
        flock: tenant::Path,
        auth: UserAuth,
        /// Only addresses of this type.
        #[oai(name = "type", validator(max_length = 32))]
        kind: Query<Option<String>>,
    ) -> ApiResult<Json<AddressList>> {
        let list = self
            .addresses
            .list(&flock, auth.0.user, kind.0.as_deref())
            .await?;
        Ok(Json(AddressList {
            addresses: list.into_iter().map(Into::into).collect(),
        }))
    }

    /// Add an address (at most 20 per user).
    #[oai(
        path = "/api/v1/:flock/user/addresses",
        method = "post",
        operation_id = "user_addresses_create"
    )]
    async fn add_mine(
        &self,
        /// The flock's slug.
        flock: tenant::Path,
        auth: UserAuth,
        body: Json<NewAddress>,
    ) -> ApiResult<CreatedAddress> {
        let (kind, fields) = new_address(body.0);
        let a = self
            .addresses
            .create(&flock, auth.0.user, &kind, fields)
            .await?;
        Ok(CreatedAddress::Created(Json(a.into())))
    }

    /// Change an address: at once (200), or, for a type the flock approves, as a
    /// pending change request (202) the back office accepts or rejects.
    #[oai(
        path = "/api/v1/:flock/user/addresses/:address_id",
        method = "patch",
        operation_id = "user_addresses_update"
    )]
    async fn change_mine(
        &self,
        /// The flock's slug.
        flock: tenant::Path,
        auth: UserAuth,
        /// The address's id.
        address_id: Path<Uuid>,
        body: Json<AddressPatchBody>,
    ) -> ApiResult<UpdatedAddress> {
        let u = self
            .addresses
            .update(
                &flock,
                auth.0.user,
                address_id.0,
                patch_of!(body.0),
                Viewer::User,
            )
            .await?;
        Ok(u.into())
    }

    /// Delete an address.
    #[oai(
        path = "/api/v1/:flock/user/addresses/:address_id",
        method = "delete",
        operation_id = "user_addresses_delete"
    )]
    async fn delete_mine(
        &self,
        /// The flock's slug.
        flock: tenant::Path,
        auth: UserAuth,
        /// The address's id.
        address_id: Path<Uuid>,
    ) -> ApiResult<Deleted> {
        self.addresses
            .delete(&flock, auth.0.user, address_id.0)
            .await?;
        Ok(Deleted::Deleted)
    }

    /// The signed-in user's change requests (pending and decided), newest first.
    #[oai(
        path = "/api/v1/:flock/user/address-requests",
        method = "get",
        operation_id = "user_address_requests_list"
    )]
    async fn my_requests(
        &self,
        /// The flock's slug.
        flock: tenant::Path,
        auth: UserAuth,
    ) -> ApiResult<Json<RequestList>> {
        let list = self.addresses.requests_of(&flock, auth.0.user).await?;
        Ok(Json(RequestList {
            requests: list.into_iter().map(Into::into).collect(),
        }))
    }
}
