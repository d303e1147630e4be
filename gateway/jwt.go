package gateway

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"slices"
	"time"

	"github.com/MicahParks/jwkset"
	"github.com/MicahParks/keyfunc/v3"
	"github.com/golang-jwt/jwt/v5"
	"golang.org/x/time/rate"

	"github.com/commentgraph/commentgraph/config"
	"github.com/commentgraph/commentgraph/providers"
)

// jwksFetchTimeout bounds one fetch of the key set, at start, in the
// background, or for an unknown kid (when a request waits for it).
const jwksFetchTimeout = 10 * time.Second

// jwtVerifier checks bearer JWTs against auth.jwt: the signature with the
// configured key or the identity provider's key set, the algorithm against
// the key's type, iss, aud, exp, nbf and iat. Its errors are jwtRefusals,
// whose reasons never hold the token or a claim's value.
type jwtVerifier struct {
	parser *jwt.Parser
	// keys finds a token's key, with ctx bounding a fetch for an unknown kid.
	keys func(ctx context.Context) jwt.Keyfunc
	// algs are the algorithms the keys may verify (WithValidMethods).
	algs        []string
	issuer      string
	tenantClaim string
	userClaim   string
}

// asymmetricAlgs are every algorithm a key set's keys may sign with. HS*
// (whose key is a shared secret, so a public key taken for one would verify
// a forgery) and none are not among them.
var asymmetricAlgs = []string{"RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA"}

// newJWTVerifier reads auth.jwt's key: the PEM file, or the key set, fetched
// now and refreshed in the background until ctx is done. Its errors name the
// key at fault.
func newJWTVerifier(ctx context.Context, c config.JWT, client *http.Client, log *slog.Logger) (*jwtVerifier, error) {
	v := &jwtVerifier{issuer: c.Issuer, tenantClaim: c.TenantClaim, userClaim: c.UserClaim}
	algs := asymmetricAlgs
	if c.PublicKeyFile != "" {
		key, err := readPublicKey(c.PublicKeyFile)
		if err != nil {
			return nil, fmt.Errorf("auth.jwt.publicKeyFile: %w", err)
		}
		algs = algsFor(key)
		v.keys = func(context.Context) jwt.Keyfunc {
			return func(*jwt.Token) (any, error) { return key, nil }
		}
	} else {
		kf, err := keyfunc.NewDefaultOverrideCtx(ctx, []string{c.JWKSURL}, keyfunc.Override{
			Client:                    client,
			HTTPTimeout:               jwksFetchTimeout,
			NoErrorReturnFirstHTTPReq: ptrTo(false),
			RefreshInterval:           c.RefreshInterval.D(),
			// An unknown kid fetches the set at once while the limiter holds
			// its one token, then not until the interval has passed. A request
			// waits for the limiter at most RateLimitWaitMax, less than any
			// sensible interval, and rate.Limiter.Wait gives up at once on a
			// wait past its deadline: tokens with made-up kids are refused
			// straight away, not held.
			RefreshUnknownKID: rate.NewLimiter(rate.Every(c.UnknownKIDRefreshInterval.D()), 1),
			RateLimitWaitMax:  jwksFetchTimeout,
			RefreshErrorHandlerFunc: func(string) func(context.Context, error) {
				return func(ctx context.Context, err error) {
					log.WarnContext(ctx, "auth.jwt: fetching the key set failed; the keys fetched before stay in use", "err", err)
				}
			},
		})
		if err != nil {
			return nil, fmt.Errorf("auth.jwt.jwksURL: %w", err)
		}
		v.keys = func(ctx context.Context) jwt.Keyfunc { return setKey(ctx, kf.Storage()) }
	}
	v.algs = algs
	v.parser = jwt.NewParser(
		jwt.WithValidMethods(algs),
		jwt.WithIssuer(c.Issuer),
		jwt.WithAudience(c.Audience),
		jwt.WithLeeway(max(c.Leeway.D(), 0)),
		jwt.WithExpirationRequired(),
		jwt.WithIssuedAt(),
	)
	return v, nil
}

// jwtRefusal is why a token was refused, in words safe to show the client
// and to log: never the token, never a claim's value.
type jwtRefusal struct{ reason string }

func (e jwtRefusal) Error() string { return e.reason }

var (
	errJWTMalformed     = jwtRefusal{"malformed"}
	errJWTAlgorithm     = jwtRefusal{"algorithm not allowed"}
	errJWTUnknownKey    = jwtRefusal{"unknown signing key"}
	errJWTSignature     = jwtRefusal{"bad signature"}
	errJWTExpired       = jwtRefusal{"expired"}
	errJWTNotYetValid   = jwtRefusal{"not valid yet"}
	errJWTIssuer        = jwtRefusal{"wrong issuer"}
	errJWTAudience      = jwtRefusal{"wrong audience"}
	errJWTMissingClaim  = jwtRefusal{"missing a required claim"}
	errJWTInvalidClaims = jwtRefusal{"invalid claims"}
)

// The key lookup's refusals: no key by the token's kid, or a key of another
// type or alg than the token's (or an HMAC secret from a key set).
var (
	errNoSuchKey     = errors.New("no such key")
	errKeyDoesNotFit = errors.New("the key does not fit the token's algorithm")
)

// verify checks token and returns who it names: its tenant claim ("" when
// absent: the default tenant), its user claim, and a credential fingerprint
// of issuer, tenant and user, so every token of one user (a refreshed one
// too) shares one scope and no two users share one.
func (v *jwtVerifier) verify(ctx context.Context, token string) (identity, error) {
	keys := v.keys(ctx)
	claims := jwt.MapClaims{}
	t, err := v.parser.ParseWithClaims(token, claims, func(t *jwt.Token) (any, error) {
		key, err := keys(t)
		if err != nil {
			return nil, err
		}
		return pinKey(t.Method.Alg(), key)
	})
	if err != nil {
		// The parser refuses an alg outside WithValidMethods (none, HS256)
		// as a bad signature, and an unknown one as unverifiable: name both
		// for what they are.
		if t != nil && !errors.Is(err, jwt.ErrTokenMalformed) && (t.Method == nil || !slices.Contains(v.algs, t.Method.Alg())) {
			return identity{}, errJWTAlgorithm
		}
		if errors.Is(err, jwt.ErrTokenRequiredClaimMissing) {
			for _, c := range []string{"exp", "iss", "aud"} {
				if _, ok := claims[c]; !ok {
					return identity{}, jwtRefusal{"no " + c + " claim"}
				}
			}
		}
		return identity{}, refusalOf(err)
	}
	user, ok := claims[v.userClaim].(string)
	if !ok || user == "" {
		return identity{}, jwtRefusal{"no " + v.userClaim + " claim naming the user"}
	}
	tenant := ""
	if raw, present := claims[v.tenantClaim]; present {
		if tenant, ok = raw.(string); !ok {
			return identity{}, jwtRefusal{"the " + v.tenantClaim + " claim is not a string"}
		}
	}
	var expires time.Time
	if exp, err := claims.GetExpirationTime(); err == nil && exp != nil {
		expires = exp.Time
	}
	return identity{
		expires:     expires,
		fingerprint: providers.Fingerprint("jwt\x00" + v.issuer + "\x00" + tenant + "\x00" + user),
		tenant:      tenant,
		user:        user,
		issuer:      v.issuer,
	}, nil
}

// setKey finds a token's key in the key set: by its kid (an unknown one
// fetches the set again, rate-limited by the storage), or, without a kid,
// every key of the set that fits its alg. It is keyfunc's KeyfuncCtx with
// refusals told apart, and a key meant for encryption (use "enc") refused.
func setKey(ctx context.Context, store jwkset.Storage) jwt.Keyfunc {
	return func(t *jwt.Token) (any, error) {
		alg := t.Method.Alg()
		kid, hasKID := t.Header[jwkset.HeaderKID]
		if !hasKID {
			all, err := store.KeyReadAll(ctx)
			if err != nil {
				return nil, fmt.Errorf("%w: %w", errNoSuchKey, err)
			}
			var set jwt.VerificationKeySet
			for _, k := range all {
				if key, ok := publicKeyFor(k, alg); ok {
					set.Keys = append(set.Keys, key)
				}
			}
			if len(set.Keys) == 0 {
				return nil, errNoSuchKey
			}
			return set, nil
		}
		id, ok := kid.(string)
		if !ok {
			return nil, errNoSuchKey
		}
		k, err := store.KeyRead(ctx, id)
		if err != nil {
			// Not in the set, even after a fetch if the limiter allowed one.
			return nil, fmt.Errorf("%w: %w", errNoSuchKey, err)
		}
		key, ok := publicKeyFor(k, alg)
		if !ok {
			return nil, errKeyDoesNotFit
		}
		return key, nil
	}
}

// publicKeyFor is k's public key when k may verify alg: its JWK alg, when
// set, is alg; its use, when set, is "sig".
func publicKeyFor(k jwkset.JWK, alg string) (any, bool) {
	m := k.Marshal()
	if (m.ALG != "" && m.ALG.String() != alg) || (m.USE != "" && m.USE != jwkset.UseSig) {
		return nil, false
	}
	key := k.Key()
	if pk, ok := key.(interface{ Public() crypto.PublicKey }); ok {
		key = pk.Public() // a set should hold no private key; use only its public half
	}
	return key, true
}

// refusalOf maps golang-jwt's errors (joined, so the most telling is
// checked first) to a refusal.
func refusalOf(err error) jwtRefusal {
	switch {
	case errors.Is(err, jwt.ErrTokenMalformed):
		return errJWTMalformed
	case errors.Is(err, errKeyDoesNotFit):
		return errJWTAlgorithm
	case errors.Is(err, errNoSuchKey), errors.Is(err, jwt.ErrTokenUnverifiable):
		return errJWTUnknownKey
	case errors.Is(err, jwt.ErrTokenSignatureInvalid):
		return errJWTSignature
	case errors.Is(err, jwt.ErrTokenInvalidIssuer):
		return errJWTIssuer
	case errors.Is(err, jwt.ErrTokenInvalidAudience):
		return errJWTAudience
	case errors.Is(err, jwt.ErrTokenExpired):
		return errJWTExpired
	case errors.Is(err, jwt.ErrTokenNotValidYet), errors.Is(err, jwt.ErrTokenUsedBeforeIssued):
		return errJWTNotYetValid
	case errors.Is(err, jwt.ErrTokenRequiredClaimMissing):
		return errJWTMissingClaim
	}
	return errJWTInvalidClaims
}

// pinKey lets a key verify only the algorithms of its own type (and an EC
// key only the one of its curve): an RSA public key is never an HS256 secret,
// a P-256 key never verifies ES512. A key set's kid-less tokens are tried
// against every key that fits.
func pinKey(alg string, key any) (any, error) {
	if set, ok := key.(jwt.VerificationKeySet); ok {
		var fit jwt.VerificationKeySet
		for _, k := range set.Keys {
			if slices.Contains(algsFor(k), alg) {
				fit.Keys = append(fit.Keys, k)
			}
		}
		if len(fit.Keys) == 0 {
			return nil, errKeyDoesNotFit
		}
		return fit, nil
	}
	if !slices.Contains(algsFor(key), alg) {
		return nil, errKeyDoesNotFit
	}
	return key, nil
}

// algsFor lists the algorithms key may verify; none for a key of any other
// type (an HMAC secret among them).
func algsFor(key any) []string {
	switch k := key.(type) {
	case *rsa.PublicKey:
		return []string{"RS256", "RS384", "RS512", "PS256", "PS384", "PS512"}
	case *ecdsa.PublicKey:
		switch k.Curve {
		case elliptic.P256():
			return []string{"ES256"}
		case elliptic.P384():
			return []string{"ES384"}
		case elliptic.P521():
			return []string{"ES512"}
		}
	case ed25519.PublicKey:
		return []string{"EdDSA"}
	}
	return nil
}

// readPublicKey reads the one PEM block of path: a public key (PKIX, or
// PKCS #1 RSA) or a certificate, RSA, EC (P-256, P-384, P-521) or Ed25519.
func readPublicKey(path string) (any, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	block, _ := pem.Decode(raw)
	if block == nil {
		return nil, errors.New("no PEM block")
	}
	var key any
	switch block.Type {
	case "PUBLIC KEY":
		key, err = x509.ParsePKIXPublicKey(block.Bytes)
	case "RSA PUBLIC KEY":
		key, err = x509.ParsePKCS1PublicKey(block.Bytes)
	case "CERTIFICATE":
		var cert *x509.Certificate
		if cert, err = x509.ParseCertificate(block.Bytes); err == nil {
			key = cert.PublicKey
		}
	default:
		// A private key here would be a secret in the wrong place: say so
		// without reading it.
		return nil, fmt.Errorf("PEM block %q is not a PUBLIC KEY, RSA PUBLIC KEY or CERTIFICATE", block.Type)
	}
	if err != nil {
		return nil, fmt.Errorf("PEM block %q: %w", block.Type, err)
	}
	if len(algsFor(key)) == 0 {
		return nil, fmt.Errorf("a %T is not an RSA, EC (P-256, P-384, P-521) or Ed25519 public key", key)
	}
	return key, nil
}

func ptrTo[T any](v T) *T { return &v }
