// oauth_bridge, nginx data plane: Looker's answer headers as the embedded proxy returns them.
//
// Loaded by the nginx.conf that `oauth-bridge nginx-config` prints (js_header_filter), for the
// /api/4.0/ location only. It does what oauth_bridge/proxy.py's to_browser() and
// per_user_cache_headers() do, so a browser sees the same headers in both modes:
// - only the allowlisted headers of Looker's answer stay (Set-Cookie, Server, CORS headers and
//   anything else Looker sends are dropped); the list below is tested to equal
//   RETURNED_RESPONSE_HEADERS in proxy.py;
// - Cache-Control loses `public` and `s-maxage` and gains `private`; Vary gains Cookie and Origin;
// - the request id (from the bridge's verify answer) and the CORS headers for an allowed Origin
//   (from the nginx map built from OAUTH_BRIDGE_CORS_ORIGINS) are set, as flask-cors sets them.

var RETURNED = {
    "cache-control": 1,
    "content-disposition": 1,
    "content-encoding": 1,
    "content-language": 1,
    "content-length": 1,
    "content-type": 1,
    "etag": 1,
    "expires": 1,
    "last-modified": 1,
    "vary": 1
};
var VARY_PER_USER = ["Cookie", "Origin"];
var DROPPED_CACHE_DIRECTIVES = {"public": 1, "s-maxage": 1, "private": 1};

// Split a header value on commas that are not inside a quoted string.
function listItems(value) {
    var items = [];
    var current = "";
    var quoted = false;
    for (var i = 0; i < value.length; i++) {
        var ch = value[i];
        if (ch === '"') {
            quoted = !quoted;
        } else if (ch === "\\" && quoted && i + 1 < value.length) {
            current += ch + value[i + 1];
            i++;
            continue;
        }
        if (ch === "," && !quoted) {
            items.push(current.trim());
            current = "";
        } else {
            current += ch;
        }
    }
    items.push(current.trim());
    return items.filter(function (item) { return item.length > 0; });
}

function valuesOf(r, lowerName) {
    return r.rawHeadersOut
        .filter(function (pair) { return pair[0].toLowerCase() === lowerName; })
        .map(function (pair) { return pair[1]; });
}

function perUserCacheControl(values) {
    var kept = [];
    values.forEach(function (value) {
        listItems(value).forEach(function (directive) {
            var name = directive.split("=")[0].trim().toLowerCase();
            if (!DROPPED_CACHE_DIRECTIVES[name]) {
                kept.push(directive);
            }
        });
    });
    kept.push("private");
    return kept.join(", ");
}

function perUserVary(values) {
    var seen = {};
    var fields = [];
    values.concat([VARY_PER_USER.join(", ")]).forEach(function (value) {
        listItems(value).forEach(function (field) {
            var key = field.toLowerCase();
            if (!seen[key]) {
                seen[key] = 1;
                fields.push(field);
            }
        });
    });
    return seen["*"] ? "*" : fields.join(", ");
}

function filter(r) {
    var cacheControl = perUserCacheControl(valuesOf(r, "cache-control"));
    var vary = perUserVary(valuesOf(r, "vary"));
    Object.keys(r.headersOut).forEach(function (name) {
        if (!RETURNED[name.toLowerCase()]) {
            delete r.headersOut[name];
        }
    });
    r.headersOut["Cache-Control"] = cacheControl;
    r.headersOut["Vary"] = vary;
    var requestId = r.variables.oauth_bridge_request_id;
    if (requestId) {
        r.headersOut["X-Request-Id"] = requestId;
    }
    var origin = r.variables.oauth_bridge_cors_origin;
    if (origin) {
        r.headersOut["Access-Control-Allow-Origin"] = origin;
        r.headersOut["Access-Control-Expose-Headers"] = "Retry-After, X-Request-Id";
        r.headersOut["Access-Control-Allow-Credentials"] = "true";
    }
}

export default {filter};
