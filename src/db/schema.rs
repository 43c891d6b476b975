//! The diesel schema, written by hand in types both backends share.

diesel::table! {
    users (id) {
        id -> BigInt,
        username -> Text,
        password -> Text,
        is_active -> Bool,
        date_joined -> Timestamp,
        last_login -> Nullable<Timestamp>,
        tokens_valid_after -> Nullable<Timestamp>,
        email -> Text,
        first_name -> Text,
        last_name -> Text,
        is_staff -> Bool,
        is_superuser -> Bool,
        claims -> Text,
        kept_session_id -> Nullable<Text>,
        imported_password_digest -> Nullable<Text>,
        imported_record_digest -> Nullable<Text>,
        imported_drf_key_digest -> Nullable<Text>,
    }
}

diesel::table! {
    user_groups (id) {
        id -> BigInt,
        name -> Text,
    }
}

diesel::table! {
    user_group_members (user_id, group_id) {
        user_id -> BigInt,
        group_id -> BigInt,
    }
}

diesel::joinable!(user_group_members -> users (user_id));
diesel::joinable!(user_group_members -> user_groups (group_id));

diesel::table! {
    refresh_tokens (jti) {
        jti -> Text,
        user_id -> BigInt,
        family_id -> Text,
        parent_jti -> Nullable<Text>,
        issued_at -> Timestamp,
        expires_at -> Timestamp,
        rotated_at -> Nullable<Timestamp>,
        replaced_by -> Nullable<Text>,
        blacklisted_at -> Nullable<Timestamp>,
    }
}

diesel::joinable!(refresh_tokens -> users (user_id));
diesel::joinable!(refresh_tokens -> token_families (family_id));
diesel::joinable!(token_families -> users (user_id));
diesel::allow_tables_to_appear_in_same_query!(
    users,
    refresh_tokens,
    auth_events,
    token_families,
    user_groups,
    user_group_members,
    audit_events,
    drf_token_keys
);

diesel::table! {
    auth_events (id) {
        id -> BigInt,
        user_id -> Nullable<BigInt>,
        created_at -> Timestamp,
        family_id -> Nullable<Text>,
    }
}

diesel::table! {
    token_families (id) {
        id -> Text,
        user_id -> BigInt,
        created_at -> Timestamp,
        last_used_at -> Timestamp,
        expires_at -> Timestamp,
        revoked_at -> Nullable<Timestamp>,
        revoked_reason -> Nullable<Text>,
        client_ip -> Nullable<Text>,
        user_agent -> Nullable<Text>,
        sliding_newest_iat -> Nullable<Timestamp>,
        sliding_previous_iat -> Nullable<Timestamp>,
    }
}

diesel::table! {
    drf_token_keys (digest) {
        digest -> Text,
        user_id -> BigInt,
        nonce -> Nullable<Text>,
        created_at -> Timestamp,
    }
}

diesel::joinable!(drf_token_keys -> users (user_id));

diesel::table! {
    audit_events (id) {
        id -> BigInt,
        at -> Timestamp,
        event -> Text,
        user_id -> Nullable<BigInt>,
        session_id -> Nullable<Text>,
        client_ip -> Nullable<Text>,
        detail -> Nullable<Text>,
    }
}
