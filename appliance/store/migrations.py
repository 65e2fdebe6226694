"""The schema, as numbered migrations. Never edit a shipped one: append a new one."""

MIGRATIONS: list[str] = [
    # 1: the initial schema
    """
    CREATE TABLE api_keys (
        id TEXT PRIMARY KEY,
        name TEXT NOT NULL,
        prefix TEXT NOT NULL,
        key_hash TEXT NOT NULL UNIQUE,
        created_at TEXT NOT NULL,
        revoked_at TEXT,
        last_used_at TEXT
    );
    CREATE TABLE trunks (
        id TEXT PRIMARY KEY,
        name TEXT NOT NULL UNIQUE,
        host TEXT NOT NULL,
        port INTEGER NOT NULL,
        transport TEXT NOT NULL,
        username TEXT,
        password TEXT,
        register INTEGER NOT NULL DEFAULT 0,
        from_domain TEXT,
        codecs TEXT NOT NULL,
        max_channels INTEGER,
        builtin INTEGER NOT NULL DEFAULT 0,
        created_at TEXT NOT NULL,
        updated_at TEXT NOT NULL
    );
    CREATE TABLE numbers (
        id TEXT PRIMARY KEY,
        e164 TEXT NOT NULL UNIQUE,
        friendly_name TEXT,
        country_code TEXT,
        number_type TEXT NOT NULL,
        status TEXT NOT NULL,
        trunk_id TEXT REFERENCES trunks(id),
        created_at TEXT NOT NULL
    );
    CREATE TABLE agents (
        id TEXT PRIMARY KEY,
        name TEXT NOT NULL,
        type TEXT NOT NULL,
        persona TEXT,
        instructions TEXT,
        voice TEXT,
        language TEXT NOT NULL,
        returns TEXT,
        tools TEXT NOT NULL,
        webhook_url TEXT,
        voicemail_action TEXT NOT NULL,
        first_message TEXT,
        voicemail_message TEXT,
        max_duration_seconds INTEGER NOT NULL,
        silence_timeout_seconds INTEGER NOT NULL,
        ring_timeout_seconds INTEGER NOT NULL,
        primary_number_id TEXT REFERENCES numbers(id),
        archived_at TEXT,
        created_at TEXT NOT NULL,
        updated_at TEXT NOT NULL
    );
    CREATE INDEX agents_type ON agents(type, created_at);
    CREATE TABLE agent_numbers (
        agent_id TEXT NOT NULL REFERENCES agents(id),
        number_id TEXT NOT NULL REFERENCES numbers(id) ON DELETE CASCADE,
        attached_at TEXT NOT NULL,
        PRIMARY KEY (agent_id, number_id)
    );
    CREATE INDEX agent_numbers_number ON agent_numbers(number_id);
    CREATE TABLE calls (
        seq INTEGER PRIMARY KEY AUTOINCREMENT,
        id TEXT NOT NULL UNIQUE,
        agent_id TEXT REFERENCES agents(id),
        direction TEXT NOT NULL,
        to_number TEXT NOT NULL,
        from_number TEXT,
        trunk_id TEXT,
        status TEXT NOT NULL,
        answered_by TEXT,
        agent_snapshot TEXT NOT NULL,
        instructions TEXT,
        context TEXT NOT NULL,
        metadata TEXT NOT NULL,
        result TEXT,
        result_status TEXT,
        result_error TEXT,
        created_at TEXT NOT NULL,
        started_at TEXT,
        answered_at TEXT,
        ended_at TEXT,
        updated_at TEXT NOT NULL,
        duration_seconds INTEGER,
        billed_duration_seconds INTEGER,
        billing_amount_milli_cents INTEGER,
        webhook_url TEXT,
        webhook_status TEXT NOT NULL,
        webhook_error TEXT,
        error_code TEXT,
        error_message TEXT,
        hangup_cause TEXT,
        end_reason TEXT,
        recording_path TEXT,
        latency TEXT,
        voicemail_left INTEGER NOT NULL DEFAULT 0,
        channel_id TEXT,
        idempotency_key TEXT,
        request_hash TEXT
    );
    CREATE INDEX calls_status ON calls(status, seq);
    CREATE INDEX calls_direction ON calls(direction, seq);
    CREATE INDEX calls_agent ON calls(agent_id, seq);
    CREATE INDEX calls_created ON calls(created_at);
    CREATE UNIQUE INDEX calls_idempotency ON calls(idempotency_key) WHERE idempotency_key IS NOT NULL;
    CREATE TABLE call_events (
        seq INTEGER PRIMARY KEY AUTOINCREMENT,
        call_id TEXT NOT NULL REFERENCES calls(id),
        type TEXT NOT NULL,
        at TEXT NOT NULL,
        data TEXT NOT NULL
    );
    CREATE INDEX call_events_call ON call_events(call_id, seq);
    CREATE TABLE transcript_segments (
        call_id TEXT NOT NULL REFERENCES calls(id),
        sequence_no INTEGER NOT NULL,
        role TEXT NOT NULL,
        text TEXT NOT NULL,
        started_at TEXT NOT NULL,
        ended_at TEXT NOT NULL,
        duration_ms INTEGER NOT NULL,
        source TEXT NOT NULL,
        PRIMARY KEY (call_id, sequence_no)
    );
    CREATE TABLE webhook_events (
        seq INTEGER PRIMARY KEY AUTOINCREMENT,
        id TEXT NOT NULL UNIQUE,
        call_id TEXT NOT NULL REFERENCES calls(id),
        type TEXT NOT NULL,
        created INTEGER NOT NULL,
        payload TEXT NOT NULL
    );
    CREATE INDEX webhook_events_call ON webhook_events(call_id, seq)
    """,
    # 2: webhook endpoints and the delivery outbox (one row per event and destination)
    """
    CREATE TABLE webhook_endpoints (
        id TEXT PRIMARY KEY,
        url TEXT NOT NULL,
        description TEXT,
        enabled_events TEXT NOT NULL,
        status TEXT NOT NULL,
        secret TEXT NOT NULL,
        disabled_reason TEXT,
        disabled_at TEXT,
        consecutive_failures INTEGER NOT NULL DEFAULT 0,
        created_at TEXT NOT NULL,
        updated_at TEXT NOT NULL
    );
    CREATE TABLE webhook_deliveries (
        seq INTEGER PRIMARY KEY AUTOINCREMENT,
        id TEXT NOT NULL UNIQUE,
        event_id TEXT NOT NULL REFERENCES webhook_events(id),
        call_id TEXT,
        endpoint_id TEXT REFERENCES webhook_endpoints(id),
        destination TEXT NOT NULL,
        url TEXT NOT NULL,
        event_type TEXT NOT NULL,
        status TEXT NOT NULL,
        attempt_count INTEGER NOT NULL DEFAULT 0,
        max_attempts INTEGER NOT NULL DEFAULT 8,
        manual_retry_count INTEGER NOT NULL DEFAULT 0,
        next_attempt_at REAL NOT NULL,
        last_error TEXT,
        last_response_status INTEGER,
        delivered_at TEXT,
        created_at TEXT NOT NULL,
        updated_at TEXT NOT NULL
    );
    CREATE INDEX webhook_deliveries_due ON webhook_deliveries(status, next_attempt_at);
    CREATE INDEX webhook_deliveries_call ON webhook_deliveries(call_id, destination, seq);
    CREATE INDEX webhook_deliveries_endpoint ON webhook_deliveries(endpoint_id, seq);
    CREATE TABLE appliance_secrets (
        name TEXT PRIMARY KEY,
        value TEXT NOT NULL
    )
    """,
    # 3: console users and their sign-in sessions (only hashes are stored)
    """
    CREATE TABLE console_users (
        id TEXT PRIMARY KEY,
        username TEXT NOT NULL UNIQUE,
        password_hash TEXT NOT NULL,
        created_at TEXT NOT NULL
    );
    CREATE TABLE console_sessions (
        token_hash TEXT PRIMARY KEY,
        user_id TEXT NOT NULL REFERENCES console_users(id) ON DELETE CASCADE,
        created_at REAL NOT NULL,
        expires_at REAL NOT NULL
    );
    CREATE INDEX console_sessions_expiry ON console_sessions(expires_at)
    """,
    # 4: the hosted service's legacy shapes: DID ranges a trunk offers, a number's monthly cost, and the
    # inbound agent a number owns (made by PUT /v1/numbers/{id}/inbound)
    """
    ALTER TABLE trunks ADD COLUMN did_ranges TEXT NOT NULL DEFAULT '[]';
    ALTER TABLE numbers ADD COLUMN monthly_cost_cents INTEGER NOT NULL DEFAULT 0;
    ALTER TABLE agents ADD COLUMN owner_number_id TEXT REFERENCES numbers(id);
    CREATE INDEX agents_owner_number ON agents(owner_number_id)
    """,
    # 5: campaigns, their contacts and every attempt (each one call), campaign events, the do-not-call list
    """
    CREATE TABLE campaigns (
        seq INTEGER PRIMARY KEY AUTOINCREMENT,
        id TEXT NOT NULL UNIQUE,
        name TEXT,
        agent_id TEXT NOT NULL REFERENCES agents(id),
        from_number TEXT,
        status TEXT NOT NULL,
        max_concurrent INTEGER NOT NULL,
        calling_window TEXT NOT NULL,
        start_at TEXT,
        retry TEXT NOT NULL,
        paused_reason TEXT,
        breaker_after INTEGER NOT NULL DEFAULT 0,
        created_at TEXT NOT NULL,
        updated_at TEXT NOT NULL,
        ended_at TEXT
    );
    CREATE INDEX campaigns_status ON campaigns(status, seq);
    CREATE TABLE campaign_contacts (
        seq INTEGER PRIMARY KEY AUTOINCREMENT,
        id TEXT NOT NULL UNIQUE,
        campaign_id TEXT NOT NULL REFERENCES campaigns(id),
        line INTEGER,
        to_number TEXT NOT NULL,
        trunk_id TEXT,
        columns TEXT NOT NULL,
        state TEXT NOT NULL,
        outcome TEXT,
        detail TEXT,
        attempts INTEGER NOT NULL DEFAULT 0,
        next_attempt_at REAL NOT NULL DEFAULT 0,
        call_id TEXT REFERENCES calls(id),
        updated_at TEXT NOT NULL
    );
    CREATE INDEX campaign_contacts_due ON campaign_contacts(campaign_id, state, next_attempt_at, seq);
    CREATE INDEX campaign_contacts_dialing ON campaign_contacts(state, call_id);
    CREATE TABLE campaign_attempts (
        seq INTEGER PRIMARY KEY AUTOINCREMENT,
        campaign_id TEXT NOT NULL REFERENCES campaigns(id),
        contact_id TEXT NOT NULL REFERENCES campaign_contacts(id),
        call_id TEXT NOT NULL UNIQUE REFERENCES calls(id),
        outcome TEXT,
        created_at TEXT NOT NULL,
        ended_at TEXT
    );
    CREATE INDEX campaign_attempts_contact ON campaign_attempts(contact_id, seq);
    CREATE INDEX campaign_attempts_campaign ON campaign_attempts(campaign_id, seq);
    CREATE TABLE campaign_events (
        seq INTEGER PRIMARY KEY AUTOINCREMENT,
        campaign_id TEXT NOT NULL REFERENCES campaigns(id),
        type TEXT NOT NULL,
        at TEXT NOT NULL,
        data TEXT NOT NULL
    );
    CREATE INDEX campaign_events_campaign ON campaign_events(campaign_id, seq);
    CREATE TABLE dnc (
        number TEXT PRIMARY KEY,
        reason TEXT,
        source TEXT NOT NULL,
        call_id TEXT,
        created_at TEXT NOT NULL
    );
    CREATE INDEX calls_to_number ON calls(to_number, started_at)
    """,
    # 6: post-call analysis, privacy (redaction, retention, recording) per agent; analysis and deletion per call
    """
    ALTER TABLE agents ADD COLUMN analysis TEXT;
    ALTER TABLE agents ADD COLUMN redact TEXT NOT NULL DEFAULT '[]';
    ALTER TABLE agents ADD COLUMN redact_exempt_fields TEXT NOT NULL DEFAULT '[]';
    ALTER TABLE agents ADD COLUMN recording_retention_days INTEGER;
    ALTER TABLE agents ADD COLUMN transcript_retention_days INTEGER;
    ALTER TABLE agents ADD COLUMN recording TEXT NOT NULL DEFAULT 'on';
    ALTER TABLE agents ADD COLUMN recording_notice TEXT;
    ALTER TABLE calls ADD COLUMN analysis TEXT;
    ALTER TABLE calls ADD COLUMN analysis_status TEXT;
    ALTER TABLE calls ADD COLUMN recording_redaction TEXT;
    ALTER TABLE calls ADD COLUMN recording_expires_at TEXT;
    ALTER TABLE calls ADD COLUMN transcript_expires_at TEXT;
    ALTER TABLE calls ADD COLUMN recording_deleted_at TEXT;
    ALTER TABLE calls ADD COLUMN transcript_deleted_at TEXT;
    CREATE INDEX calls_recording_expiry ON calls(recording_expires_at) WHERE recording_expires_at IS NOT NULL;
    CREATE INDEX calls_transcript_expiry ON calls(transcript_expires_at) WHERE transcript_expires_at IS NOT NULL
    """,
    # 7: more addresses a trunk's carrier sends INVITEs from (IPs / CIDRs, any port), beside the trunk's host
    """
    ALTER TABLE trunks ADD COLUMN inbound_addresses TEXT NOT NULL DEFAULT '[]'
    """,
    # 8: where a transfer put the caller through to
    """
    ALTER TABLE calls ADD COLUMN transferred_to TEXT
    """,
    # 9: the questions an agent asks for its `returns` fields; `key` names the version of the agent they were
    # written for (NULL: stale), `edited` the fields whose question a person wrote
    """
    CREATE TABLE agent_questions (
        agent_id TEXT PRIMARY KEY REFERENCES agents(id),
        key TEXT,
        questions TEXT NOT NULL,
        edited TEXT NOT NULL DEFAULT '[]',
        written_at TEXT NOT NULL
    )
    """,
]
