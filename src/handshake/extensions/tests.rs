//! Negotiation tables: offers × server settings, and the client's check of the answer.

use super::*;

fn headers(lines: &[&str]) -> HeaderMap {
    let mut map = HeaderMap::new();
    for line in lines {
        map.append(
            SEC_WEBSOCKET_EXTENSIONS,
            HeaderValue::from_str(line).unwrap(),
        );
    }
    map
}

fn respond(lines: &[&str], config: DeflateConfig) -> Option<String> {
    negotiate_deflate(&headers(lines), &config).map(|(_, v)| v.to_str().unwrap().to_owned())
}

fn default(lines: &[&str]) -> Option<String> {
    respond(lines, DeflateConfig::default())
}

#[test]
fn negotiation_table() {
    let table: &[(&[&str], Option<&str>)] = &[
        // Browsers.
        (
            &["permessage-deflate; client_max_window_bits"],
            Some("permessage-deflate"),
        ),
        (&["permessage-deflate"], Some("permessage-deflate")),
        // Every parameter, alone.
        (
            &["permessage-deflate; server_no_context_takeover"],
            Some("permessage-deflate; server_no_context_takeover"),
        ),
        (
            &["permessage-deflate; client_no_context_takeover"],
            Some("permessage-deflate"),
        ),
        (
            &["permessage-deflate; server_max_window_bits=10"],
            Some("permessage-deflate; server_max_window_bits=10"),
        ),
        (
            &["permessage-deflate; server_max_window_bits=15"],
            Some("permessage-deflate; server_max_window_bits=15"),
        ),
        (
            &["permessage-deflate; client_max_window_bits=12"],
            Some("permessage-deflate; client_max_window_bits=12"),
        ),
        // Autobahn 13.x offers.
        (
            &[
                "permessage-deflate; client_no_context_takeover; client_max_window_bits; server_no_context_takeover; server_max_window_bits=9",
            ],
            Some("permessage-deflate; server_no_context_takeover; server_max_window_bits=9"),
        ),
        // Quoted values, any case, spacing.
        (
            &["permessage-deflate;server_max_window_bits=\"11\""],
            Some("permessage-deflate; server_max_window_bits=11"),
        ),
        (
            &["Permessage-Deflate ; Server_No_Context_Takeover"],
            Some("permessage-deflate; server_no_context_takeover"),
        ),
        // Declined: unknown, duplicate, bad values, value where none allowed, missing value.
        (&["permessage-deflate; foo"], None),
        (
            &["permessage-deflate; server_no_context_takeover; server_no_context_takeover"],
            None,
        ),
        (&["permessage-deflate; server_max_window_bits=16"], None),
        (&["permessage-deflate; server_max_window_bits=7"], None),
        (&["permessage-deflate; server_max_window_bits=010"], None),
        (&["permessage-deflate; server_max_window_bits=a"], None),
        (&["permessage-deflate; server_max_window_bits"], None),
        (&["permessage-deflate; client_no_context_takeover=1"], None),
        (&["permessage-deflate; client_max_window_bits=\"\""], None),
        // 8 bits cannot be honoured by zlib.
        (&["permessage-deflate; server_max_window_bits=8"], None),
        // Other extensions are ignored.
        (&["x-webkit-deflate-frame"], None),
        // Malformed header: decline everything.
        (&["permessage-deflate; =1"], None),
        (&["permessage-deflate; server_max_window_bits=\"10"], None),
        (&["permessage-deflate,, ; x"], None),
    ];
    for (offer, expected) in table {
        assert_eq!(default(offer).as_deref(), *expected, "offer {offer:?}");
    }
}

#[test]
fn first_acceptable_offer_wins_across_lines() {
    let offers = [
        "permessage-deflate; server_max_window_bits=8, permessage-deflate; unknown_param",
        "x-foo, permessage-deflate; server_max_window_bits=12",
        "permessage-deflate",
    ];
    assert_eq!(
        default(&offers).as_deref(),
        Some("permessage-deflate; server_max_window_bits=12")
    );
}

#[test]
fn server_preferences() {
    let small = DeflateConfig::default().server_max_window_bits(10);
    // The smaller of the client's limit and ours; a client without a limit is not told.
    assert_eq!(
        respond(&["permessage-deflate; server_max_window_bits=12"], small).as_deref(),
        Some("permessage-deflate; server_max_window_bits=10")
    );
    let (params, value) = negotiate_deflate(&headers(&["permessage-deflate"]), &small).unwrap();
    assert_eq!(value, "permessage-deflate");
    assert_eq!(params.server_max_window_bits, 10);

    // Not allowing client context takeover answers client_no_context_takeover.
    let no_client_ctx = DeflateConfig::default().client_context_takeover(false);
    let (params, value) =
        negotiate_deflate(&headers(&["permessage-deflate"]), &no_client_ctx).unwrap();
    assert_eq!(value, "permessage-deflate; client_no_context_takeover");
    assert!(params.client_no_context_takeover);

    // Limiting the client's window needs the client's consent (client_max_window_bits).
    let client_small = DeflateConfig::default().client_max_window_bits(9);
    assert_eq!(
        respond(&["permessage-deflate"], client_small).as_deref(),
        Some("permessage-deflate")
    );
    assert_eq!(
        respond(
            &["permessage-deflate; client_max_window_bits"],
            client_small
        )
        .as_deref(),
        Some("permessage-deflate; client_max_window_bits=9")
    );
    assert_eq!(
        respond(
            &["permessage-deflate; client_max_window_bits=8"],
            client_small
        )
        .as_deref(),
        Some("permessage-deflate; client_max_window_bits=8")
    );

    // Server without context takeover: a silent choice unless the client asked for it.
    let no_server_ctx = DeflateConfig::default().server_context_takeover(false);
    let (params, value) =
        negotiate_deflate(&headers(&["permessage-deflate"]), &no_server_ctx).unwrap();
    assert_eq!(value, "permessage-deflate");
    assert!(params.server_no_context_takeover);
}

#[test]
fn out_of_range_fields_are_clamped_where_they_are_used() {
    // The fields are public: values no builder would store still negotiate validly.
    let mut config = DeflateConfig {
        server_max_window_bits: 3,
        client_max_window_bits: 200,
        ..DeflateConfig::default()
    };
    assert_eq!(
        respond(
            &["permessage-deflate; server_max_window_bits=12; client_max_window_bits"],
            config
        )
        .as_deref(),
        Some("permessage-deflate; server_max_window_bits=9")
    );
    config.server_max_window_bits = 99;
    config.client_max_window_bits = 0;
    assert_eq!(
        respond(
            &["permessage-deflate; server_max_window_bits=12; client_max_window_bits"],
            config
        )
        .as_deref(),
        Some("permessage-deflate; server_max_window_bits=12; client_max_window_bits=8")
    );
}

type Outcome = Result<Option<DeflateParams>, DeflateResponseError>;

fn client(offer: &str, response: &[&str]) -> Outcome {
    accept_deflate_response(&HeaderValue::from_str(offer).unwrap(), &headers(response))
}

fn agreed(snct: bool, cnct: bool, sbits: u8, cbits: u8) -> DeflateParams {
    DeflateParams {
        server_no_context_takeover: snct,
        client_no_context_takeover: cnct,
        server_max_window_bits: sbits,
        client_max_window_bits: cbits,
    }
}

#[test]
fn client_accepts_valid_responses() {
    let pmd = "permessage-deflate";
    let table: &[(&str, &[&str], Outcome)] = &[
        // Declined: no header, or an empty one.
        (pmd, &[], Ok(None)),
        (pmd, &[""], Ok(None)),
        (pmd, &[pmd], Ok(Some(agreed(false, false, 15, 15)))),
        // The server may always add these two, and limit its own window.
        (
            pmd,
            &["permessage-deflate; server_no_context_takeover; client_no_context_takeover"],
            Ok(Some(agreed(true, true, 15, 15))),
        ),
        (
            pmd,
            &["permessage-deflate; server_max_window_bits=10"],
            Ok(Some(agreed(false, false, 10, 15))),
        ),
        (
            "permessage-deflate; server_max_window_bits=12",
            &["permessage-deflate; server_max_window_bits=12"],
            Ok(Some(agreed(false, false, 12, 15))),
        ),
        (
            "permessage-deflate; server_max_window_bits=12",
            &["permessage-deflate; server_max_window_bits=9"],
            Ok(Some(agreed(false, false, 9, 15))),
        ),
        // The client's window: limited only if offered, to at most the offered value.
        (
            "permessage-deflate; client_max_window_bits",
            &["permessage-deflate; client_max_window_bits=9"],
            Ok(Some(agreed(false, false, 15, 9))),
        ),
        (
            "permessage-deflate; client_max_window_bits=11",
            &[pmd],
            Ok(Some(agreed(false, false, 15, 11))),
        ),
        (
            "permessage-deflate; client_max_window_bits=11",
            &["permessage-deflate; client_max_window_bits=10"],
            Ok(Some(agreed(false, false, 15, 10))),
        ),
        // The client's own no-context-takeover hint binds it.
        (
            "permessage-deflate; client_no_context_takeover",
            &[pmd],
            Ok(Some(agreed(false, true, 15, 15))),
        ),
        // Several offers: the response may answer any of them.
        (
            "permessage-deflate; server_no_context_takeover, permessage-deflate",
            &[pmd],
            Ok(Some(agreed(false, false, 15, 15))),
        ),
        // Another offered extension may be accepted alongside.
        (
            "x-foo, permessage-deflate",
            &["x-foo", "permessage-deflate"],
            Ok(Some(agreed(false, false, 15, 15))),
        ),
        ("x-foo, permessage-deflate", &["x-foo"], Ok(None)),
    ];
    check_client(table);
}

#[test]
fn client_refuses_invalid_responses() {
    use DeflateResponseError::*;
    let pmd = "permessage-deflate";
    let table: &[(&str, &[&str], Outcome)] = &[
        (pmd, &["x-foo"], Err(NotOffered)),
        (
            pmd,
            &["permessage-deflate, permessage-deflate"],
            Err(Repeated),
        ),
        (pmd, &["permessage-deflate; foo"], Err(InvalidParameter)),
        (
            pmd,
            &["permessage-deflate; server_max_window_bits=16"],
            Err(InvalidParameter),
        ),
        (
            pmd,
            &["permessage-deflate; server_max_window_bits"],
            Err(InvalidParameter),
        ),
        (
            "permessage-deflate; client_max_window_bits",
            &["permessage-deflate; client_max_window_bits"],
            Err(InvalidParameter),
        ),
        (
            pmd,
            &["permessage-deflate; server_no_context_takeover; server_no_context_takeover"],
            Err(InvalidParameter),
        ),
        (pmd, &["permessage-deflate; =1"], Err(Malformed)),
        ("permessage-deflate;", &[pmd], Err(Malformed)),
        (
            pmd,
            &["permessage-deflate; client_max_window_bits=10"],
            Err(DoesNotMatchOffer),
        ),
        (
            "permessage-deflate; client_max_window_bits=10",
            &["permessage-deflate; client_max_window_bits=11"],
            Err(DoesNotMatchOffer),
        ),
        (
            "permessage-deflate; server_no_context_takeover",
            &[pmd],
            Err(DoesNotMatchOffer),
        ),
        (
            "permessage-deflate; server_max_window_bits=10",
            &[pmd],
            Err(DoesNotMatchOffer),
        ),
        (
            "permessage-deflate; server_max_window_bits=10",
            &["permessage-deflate; server_max_window_bits=11"],
            Err(DoesNotMatchOffer),
        ),
    ];
    check_client(table);
}

/// Each row: the client's offer, the server's response lines, what the client makes of them.
fn check_client(table: &[(&str, &[&str], Outcome)]) {
    for (offer, response, expected) in table {
        assert_eq!(
            client(offer, response),
            *expected,
            "offer {offer:?} response {response:?}"
        );
    }
}

#[test]
fn client_and_server_agree_on_every_offer_and_config() {
    let mut offers = vec!["permessage-deflate".to_owned()];
    for snct in ["", "; server_no_context_takeover"] {
        for cnct in ["", "; client_no_context_takeover"] {
            for sbits in [
                String::new(),
                "; server_max_window_bits=9".into(),
                "; server_max_window_bits=13".into(),
            ] {
                for cbits in [
                    "",
                    "; client_max_window_bits",
                    "; client_max_window_bits=8",
                    "; client_max_window_bits=12",
                ] {
                    offers.push(format!("permessage-deflate{snct}{cnct}{sbits}{cbits}"));
                }
            }
        }
    }
    let mut configs = Vec::new();
    for server_ctx in [true, false] {
        for client_ctx in [true, false] {
            for (sbits, cbits) in [(15, 15), (9, 8), (11, 13)] {
                configs.push(
                    DeflateConfig::default()
                        .server_context_takeover(server_ctx)
                        .client_context_takeover(client_ctx)
                        .server_max_window_bits(sbits)
                        .client_max_window_bits(cbits),
                );
            }
        }
    }
    let mut checked = 0;
    for offer in &offers {
        for config in &configs {
            let Some((server, value)) = negotiate_deflate(&headers(&[offer]), config) else {
                continue;
            };
            let mut response = HeaderMap::new();
            response.insert(SEC_WEBSOCKET_EXTENSIONS, value.clone());
            let client = accept_deflate_response(&HeaderValue::from_str(offer).unwrap(), &response)
                .unwrap_or_else(|e| panic!("{e}: offer {offer:?}, response {value:?}"))
                .unwrap();
            let context = format!("offer {offer:?}, config {config:?}, response {value:?}");
            // The server's compressor fits the window and reset rule the client inflates with.
            assert!(
                server.server_max_window_bits <= client.server_max_window_bits,
                "{context}"
            );
            // A client that resets its decompressor needs a server that resets its compressor (a
            // server may reset without saying so; the client's window still decodes that).
            assert!(
                !client.server_no_context_takeover || server.server_no_context_takeover,
                "{context}"
            );
            // The client's compressor fits what the server inflates with, and resets when
            // the server's decompressor does.
            assert!(
                client.client_max_window_bits <= server.client_max_window_bits,
                "{context}"
            );
            assert!(
                !server.client_no_context_takeover || client.client_no_context_takeover,
                "{context}"
            );
            checked += 1;
        }
    }
    // Nothing here asks for an 8-bit server window, so every offer is accepted.
    assert_eq!(checked, offers.len() * configs.len());
}

#[test]
fn parses_quoted_strings_and_lists() {
    let offers = parse_offers(&headers(&["a; b=\"c\\d\", e ; f = g", "h"])).unwrap();
    let names: Vec<_> = offers.iter().map(|o| o.name.as_str()).collect();
    assert_eq!(names, ["a", "e", "h"]);
    assert_eq!(
        offers[0].params,
        vec![("b".to_owned(), Some("cd".to_owned()))]
    );
    assert_eq!(
        offers[1].params,
        vec![("f".to_owned(), Some("g".to_owned()))]
    );
    assert!(
        parse_offers(&headers(&["a; b=\"c d\""])).is_none(),
        "quoted value must be a token"
    );
}
