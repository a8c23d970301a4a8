package console

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"net/http"
	"sync"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/helsinki-student-welfare/kanta-gateway/config"
)

// principal is who is asking: a logged-in user, a user giving HTTP basic
// credentials, or (on loopback without users) the anonymous reader.
type principal struct {
	Name string
	Role string
	// CSRF is the token a state-changing request must carry: the
	// session's own, or for basic auth one derived from the user's name
	// with the console's key.
	CSRF string
}

// Operator reports whether the principal may retry and cancel.
func (p *principal) Operator() bool { return p.Role == config.RoleOperator }

// anonymous is the reader on loopback when no users are configured.
var anonymous = principal{Name: "anonymous", Role: config.RoleReadOnly}

// session is one login.
type session struct {
	p       principal
	expires time.Time
}

// users checks passwords against bcrypt hashes and keeps sessions.
type users struct {
	byName map[string]config.ConsoleUser
	ttl    time.Duration
	key    []byte // HMAC key of basic-auth CSRF tokens; random per process
	now    func() time.Time

	mu       sync.Mutex
	sessions map[string]*session
	// verified remembers a basic-auth password that matched its hash for
	// a while: River UI makes many requests per page, and bcrypt is slow
	// by design. Keyed by name, holding the SHA-256 of the password.
	verified map[string]verifiedPassword
}

type verifiedPassword struct {
	sum     [32]byte
	expires time.Time
}

// verifiedFor is how long a matched basic-auth password is remembered.
const verifiedFor = 5 * time.Minute

// dummyHash is compared against when the user is unknown, so an unknown
// name costs as much time as a wrong password.
var dummyHash, _ = bcrypt.GenerateFromPassword([]byte("no such user"), bcrypt.MinCost)

func newUsers(list []config.ConsoleUser, ttl time.Duration, now func() time.Time) *users {
	u := &users{byName: map[string]config.ConsoleUser{}, ttl: ttl, now: now,
		key: randomBytes(32), sessions: map[string]*session{}, verified: map[string]verifiedPassword{}}
	for _, x := range list {
		u.byName[x.Name] = x
	}
	return u
}

func randomBytes(n int) []byte {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		panic("console: no randomness: " + err.Error())
	}
	return b
}

func randomToken() string { return base64.RawURLEncoding.EncodeToString(randomBytes(32)) }

// check verifies a password; the user's role when it matches.
func (u *users) check(name, password string) (string, bool) {
	x, ok := u.byName[name]
	if !ok {
		_ = bcrypt.CompareHashAndPassword(dummyHash, []byte(password))
		return "", false
	}
	if bcrypt.CompareHashAndPassword([]byte(x.PasswordBcrypt), []byte(password)) != nil {
		return "", false
	}
	return x.Role, true
}

// checkBasic is check with the remembered verification of basic auth.
func (u *users) checkBasic(name, password string) (string, bool) {
	sum := sha256.Sum256([]byte(password))
	now := u.now()
	u.mu.Lock()
	v, ok := u.verified[name]
	u.mu.Unlock()
	if ok && now.Before(v.expires) && subtle.ConstantTimeCompare(v.sum[:], sum[:]) == 1 {
		return u.byName[name].Role, true
	}
	role, ok := u.check(name, password)
	if ok {
		u.mu.Lock()
		u.verified[name] = verifiedPassword{sum: sum, expires: now.Add(verifiedFor)}
		u.mu.Unlock()
	}
	return role, ok
}

// login starts a session; its id goes into the cookie.
func (u *users) login(name, role string) (string, *session) {
	id := randomToken()
	s := &session{p: principal{Name: name, Role: role, CSRF: randomToken()}, expires: u.now().Add(u.ttl)}
	u.mu.Lock()
	defer u.mu.Unlock()
	// Expired sessions go when someone logs in: the map stays as small as
	// the number of recent logins.
	for k, old := range u.sessions {
		if !u.now().Before(old.expires) {
			delete(u.sessions, k)
		}
	}
	u.sessions[id] = s
	return id, s
}

// session finds a live session and extends it.
func (u *users) session(id string) (*principal, bool) {
	u.mu.Lock()
	defer u.mu.Unlock()
	s, ok := u.sessions[id]
	if !ok {
		return nil, false
	}
	now := u.now()
	if !now.Before(s.expires) {
		delete(u.sessions, id)
		return nil, false
	}
	s.expires = now.Add(u.ttl)
	p := s.p
	return &p, true
}

func (u *users) logout(id string) {
	u.mu.Lock()
	delete(u.sessions, id)
	u.mu.Unlock()
}

// basicCSRF is the CSRF token of a basic-auth user.
func (u *users) basicCSRF(name string) string {
	m := hmac.New(sha256.New, u.key)
	m.Write([]byte("basic\x00" + name))
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

// sessionCookie names the console's session cookie.
const sessionCookie = "kanta_console_session"

// authenticate finds who is asking: nil when nobody (log in first).
func (c *Console) authenticate(r *http.Request) *principal {
	if len(c.users.byName) == 0 {
		p := anonymous
		p.CSRF = c.users.basicCSRF(p.Name)
		return &p
	}
	if ck, err := r.Cookie(sessionCookie); err == nil {
		if p, ok := c.users.session(ck.Value); ok {
			return p
		}
	}
	if name, pw, ok := r.BasicAuth(); ok {
		if role, ok := c.users.checkBasic(name, pw); ok {
			return &principal{Name: name, Role: role, CSRF: c.users.basicCSRF(name)}
		}
	}
	return nil
}

// validCSRF reports whether a state-changing request carries the
// principal's token (form field csrf or header X-CSRF-Token).
func validCSRF(r *http.Request, p *principal) bool {
	got := r.Header.Get("X-CSRF-Token")
	if got == "" {
		got = r.PostFormValue("csrf")
	}
	return got != "" && subtle.ConstantTimeCompare([]byte(got), []byte(p.CSRF)) == 1
}
