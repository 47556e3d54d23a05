//! The JSON names of decode stops (`outer-ip`, `truncated`, ...). The decoder's
//! [`Layer`] and [`Reason`] carry no serde; the report names them here, both
//! ways, for `#[serde(with)]`.

use crate::decode::{Layer, Reason};

const LAYERS: [Layer; 5] = [
    Layer::Link,
    Layer::OuterIp,
    Layer::Tunnel,
    Layer::InnerLink,
    Layer::InnerIp,
];

const REASONS: [Reason; 8] = [
    Reason::Truncated,
    Reason::Malformed,
    Reason::UnsupportedLinkType,
    Reason::DepthLimit,
    Reason::PppoeDiscovery,
    Reason::PppNotIp,
    Reason::Nsh,
    Reason::CiscoMetadata,
];

pub fn layer_name(l: Layer) -> &'static str {
    match l {
        Layer::Link => "link",
        Layer::OuterIp => "outer-ip",
        Layer::Tunnel => "tunnel",
        Layer::InnerLink => "inner-link",
        Layer::InnerIp => "inner-ip",
    }
}

pub fn reason_name(r: Reason) -> &'static str {
    match r {
        Reason::Truncated => "truncated",
        Reason::Malformed => "malformed",
        Reason::UnsupportedLinkType => "unsupported-link-type",
        Reason::DepthLimit => "depth-limit",
        Reason::PppoeDiscovery => "pppoe-discovery",
        Reason::PppNotIp => "ppp-not-ip",
        Reason::Nsh => "nsh",
        Reason::CiscoMetadata => "cisco-metadata",
    }
}

/// One `with` module per enum: a name out, the same name back in.
macro_rules! named {
    ($module:ident, $ty:ty, $all:expr, $name:path) => {
        pub mod $module {
            use serde::{de::Error, Deserialize, Deserializer, Serializer};

            use super::*;

            pub fn serialize<S: Serializer>(v: &$ty, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str($name(*v))
            }

            pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<$ty, D::Error> {
                let text = <std::borrow::Cow<'de, str>>::deserialize(d)?;
                $all.into_iter().find(|v| $name(*v) == text).ok_or_else(|| {
                    let names: Vec<&str> = $all.into_iter().map($name).collect();
                    D::Error::custom(format!("unknown name {text:?}, expected one of {names:?}"))
                })
            }
        }
    };
}

named!(layer, Layer, LAYERS, layer_name);
named!(reason, Reason, REASONS, reason_name);

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::StopCount;

    #[test]
    fn stop_names_read_back_to_the_same_stop() {
        for l in LAYERS {
            for r in REASONS {
                let stop = StopCount {
                    layer: l,
                    reason: r,
                    packets: 3,
                };
                let json = serde_json::to_string(&stop).unwrap();
                assert_eq!(
                    json,
                    format!(
                        r#"{{"layer":"{}","reason":"{}","packets":3}}"#,
                        layer_name(l),
                        reason_name(r)
                    )
                );
                assert_eq!(serde_json::from_str::<StopCount>(&json).unwrap(), stop);
            }
        }
        let bad = r#"{"layer":"outer_ip","reason":"truncated","packets":1}"#;
        let err = serde_json::from_str::<StopCount>(bad).unwrap_err();
        assert!(err.to_string().contains("\"outer_ip\""), "{err}");
    }
}

#[cfg(test)]
mod encap_tests {
    use crate::decode::Encap;

    #[test]
    fn encap_serialises_to_its_json_name_and_back() {
        let names: Vec<String> = Encap::ALL
            .iter()
            .map(|e| serde_json::to_string(e).unwrap())
            .collect();
        assert_eq!(
            names,
            [
                r#""ipip""#,
                r#""ip6in4""#,
                r#""ip4in6""#,
                r#""ip6in6""#,
                r#""gre""#,
                r#""vxlan""#,
                r#""geneve""#
            ]
        );
        for e in Encap::ALL {
            assert_eq!(
                serde_json::to_string(&e).unwrap(),
                format!("\"{}\"", e.as_str())
            );
            let back: Encap = serde_json::from_str(&format!("\"{}\"", e.as_str())).unwrap();
            assert_eq!(back, e);
        }
        assert!(serde_json::from_str::<Encap>(r#""IPIP""#).is_err());
    }
}
