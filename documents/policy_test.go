package documents

import (
	"testing"
	"time"
)

var helsinki = mustLoc("Europe/Helsinki")

func mustLoc(name string) *time.Location {
	l, err := time.LoadLocation(name)
	if err != nil {
		panic(err)
	}
	return l
}

func testPolicy() *Policy {
	return &Policy{
		Environment:          EnvironmentTest,
		Location:             helsinki,
		GuardianAgeThreshold: 12,
		AdultAge:             18,
		Roles:                DefaultRoles(),
	}
}

// psychEntry is a valid psychologist entry about a child born 2014-01-01,
// finalized on 2026-11-20 (age 12).
func psychEntry() *Entry {
	return &Entry{
		ID: "APT-PSY-1", Revision: 1, Status: StatusFinal,
		FinalizedAt: time.Date(2026, 11, 20, 10, 15, 0, 0, helsinki),
		Author:      Author{Role: RolePsychologist, RegistrationNumber: "100000001", Given: "Pirjo", Family: "Psykologi"},
		Client:      Client{Hetu: "010114A921S", Given: "Testi", Family: "Oppilas", BirthDate: MustDate("2014-01-01")},
		Service:     Service{Kind: ServiceSchoolPsychology, UnitOID: "1.2.246.10.2012566.10.1001", UnitName: "Kallio", OrganiserOID: "1.2.246.10.2012566.19.1"},
		Encounter:   Encounter{ID: "ENC-1", Type: EncounterVisit, Start: time.Date(2026, 11, 20, 9, 0, 0, 0, helsinki)},
		Text:        Text{Title: "Käynti", Narrative: "x", Language: "fi"},
		MyKanta:     MyKanta{Display: DisplayVisible},
		Guardian:    Guardian{MinorConsent: ConsentNotAssessed},
	}
}

func welfareEntry() *Entry {
	e := psychEntry()
	e.ID = "APT-KUR-1"
	e.Author.Role = RoleSchoolWelfareOfficer
	e.Service.Kind = ServiceSchoolSocialWork
	e.FinalizedAt = time.Date(2026, 5, 12, 14, 0, 0, 0, helsinki)
	e.ClientRelationship = &ClientRelationship{ID: "ASK-1", Opened: MustDate("2025-08-15")}
	return e
}

type fakeHistory map[string]int

func (h fakeHistory) LatestAccepted(id string) (int, bool) { r, ok := h[id]; return r, ok }

func TestDecide(t *testing.T) {
	nov22 := time.Date(2026, 11, 22, 12, 0, 0, 0, helsinki)
	aug31 := time.Date(2026, 8, 31, 23, 59, 0, 0, helsinki)
	goLive := time.Date(2026, 9, 1, 0, 0, 0, 0, helsinki)
	date := func(s string) *Date { d := MustDate(s); return &d }

	tests := []struct {
		name    string
		entry   func() *Entry
		now     time.Time
		history History
		env     Environment
		want    Outcome
		class   ReasonClass
		check   func(t *testing.T, d Decision)
		adjust  func(p *Policy)
	}{
		{name: "psychologist due immediately", entry: psychEntry, now: nov22, want: OutcomeSubmit, class: ReasonDue,
			check: func(t *testing.T, d Decision) {
				if d.Archive != ArchivePatient || d.Register != RegisterHealthCarePatient || d.Confidentiality != "5" {
					t.Errorf("archive/register/confidentiality = %s/%s/%s", d.Archive, d.Register, d.Confidentiality)
				}
				if !d.NotBefore.Equal(psychEntry().FinalizedAt) {
					t.Errorf("not before %v, want finalization time", d.NotBefore)
				}
			}},
		{name: "psychologist before go-live date is not held", entry: psychEntry, now: time.Date(2026, 11, 20, 11, 0, 0, 0, helsinki), want: OutcomeSubmit},
		{name: "welfare officer held before go-live", entry: welfareEntry, now: aug31, want: OutcomeHold, class: ReasonNotYetDue,
			check: func(t *testing.T, d Decision) {
				if !d.NotBefore.Equal(goLive) {
					t.Errorf("not before %v, want %v", d.NotBefore, goLive)
				}
				if d.Archive != ArchiveSocial || d.Register != RegisterSocialWelfareClient || d.Confidentiality != "6" {
					t.Errorf("archive/register/confidentiality = %s/%s/%s", d.Archive, d.Register, d.Confidentiality)
				}
			}},
		{name: "welfare officer earlier entry sent after go-live", entry: welfareEntry, now: goLive, want: OutcomeSubmit,
			check: func(t *testing.T, d Decision) {
				if !d.NotBefore.Equal(goLive) {
					t.Errorf("not before %v, want go-live", d.NotBefore)
				}
			}},
		{name: "relationship closed before go-live skipped", now: nov22, want: OutcomeSkip, class: ReasonClosedBeforeGoLive,
			entry: func() *Entry { e := welfareEntry(); e.ClientRelationship.Closed = date("2026-06-01"); return e },
			check: func(t *testing.T, d Decision) {
				if d.Reason != "closed before social welfare go-live" {
					t.Errorf("reason %q", d.Reason)
				}
			}},
		{name: "relationship closed on go-live day is sent", now: nov22, want: OutcomeSubmit,
			entry: func() *Entry { e := welfareEntry(); e.ClientRelationship.Closed = date("2026-09-01"); return e }},
		{name: "closed relationship skipped even before go-live", now: aug31, want: OutcomeSkip,
			entry: func() *Entry { e := welfareEntry(); e.ClientRelationship.Closed = date("2026-08-31"); return e }},
		{name: "draft skipped", now: nov22, want: OutcomeSkip, class: ReasonDraft,
			entry: func() *Entry { e := psychEntry(); e.Status = StatusDraft; return e }},
		{name: "delayed carries release date", now: nov22, want: OutcomeSubmit,
			entry: func() *Entry {
				e := psychEntry()
				e.MyKanta = MyKanta{Display: DisplayDelayed, ReleaseDate: MustDate("2027-01-15"), ReasonCode: "1"}
				return e
			},
			check: func(t *testing.T, d Decision) {
				if d.Display != DisplayDelayed || d.ReleaseDate != MustDate("2027-01-15") || d.Concealed {
					t.Errorf("display %s release %s concealed %v", d.Display, d.ReleaseDate, d.Concealed)
				}
			}},
		{name: "delayed without reason rejected", now: nov22, want: OutcomeReject, class: ReasonMissingReasonCode,
			entry: func() *Entry {
				e := psychEntry()
				e.MyKanta = MyKanta{Display: DisplayDelayed, ReleaseDate: MustDate("2027-01-15")}
				return e
			}},
		{name: "hidden is concealed", now: nov22, want: OutcomeSubmit,
			entry: func() *Entry {
				e := psychEntry()
				e.MyKanta = MyKanta{Display: DisplayHidden, ReasonCode: "2"}
				return e
			},
			check: func(t *testing.T, d Decision) {
				if !d.Concealed || !d.ReleaseDate.IsZero() {
					t.Errorf("concealed %v release %s", d.Concealed, d.ReleaseDate)
				}
			}},
		{name: "hidden without reason rejected", now: nov22, want: OutcomeReject, class: ReasonMissingReasonCode,
			entry: func() *Entry { e := psychEntry(); e.MyKanta = MyKanta{Display: DisplayHidden}; return e }},
		{name: "production code refused in test environment", now: nov22, want: OutcomeReject, class: ReasonIdentityEnvironment,
			entry: func() *Entry { e := psychEntry(); e.Client.Hetu = "010114A1231"; return e }},
		{name: "test code refused in production", now: nov22, env: EnvironmentProduction, want: OutcomeReject, class: ReasonIdentityEnvironment, entry: psychEntry},
		{name: "production code accepted in production", now: nov22, env: EnvironmentProduction, want: OutcomeSubmit,
			entry: func() *Entry { e := psychEntry(); e.Client.Hetu = "010114A1231"; return e }},
		{name: "registers never mixed", now: nov22, want: OutcomeReject, class: ReasonRoleServiceMismatch,
			entry: func() *Entry { e := psychEntry(); e.Service.Kind = ServiceSchoolSocialWork; return e }},
		{name: "unmapped role", now: nov22, want: OutcomeReject, class: ReasonUnmappedRole,
			entry: func() *Entry { e := psychEntry(); e.Author.Role = "nurse"; return e }},
		{name: "entered-in-error of a submitted entry invalidates", now: nov22, want: OutcomeInvalidate, class: ReasonEnteredInError,
			history: fakeHistory{"APT-PSY-1": 1},
			entry: func() *Entry {
				e := psychEntry()
				e.Revision, e.Status, e.Amends = 2, StatusEnteredInError, &Amends{Revision: 1, Reason: "wrong client"}
				return e
			}},
		{name: "entered-in-error of nothing is skipped", now: nov22, want: OutcomeSkip, class: ReasonNothingToInvalidate,
			entry: func() *Entry {
				e := psychEntry()
				e.Revision, e.Status, e.Amends = 2, StatusEnteredInError, &Amends{Revision: 1, Reason: "wrong client"}
				return e
			}},
		{name: "submit delay holds", now: time.Date(2026, 11, 20, 10, 30, 0, 0, helsinki), want: OutcomeHold, entry: psychEntry,
			adjust: func(p *Policy) {
				r := p.Roles[RolePsychologist]
				r.SubmitDelay = time.Hour
				p.Roles[RolePsychologist] = r
			}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p := testPolicy()
			if tc.env != "" {
				p.Environment = tc.env
			}
			if tc.adjust != nil {
				tc.adjust(p)
			}
			d := p.Decide(tc.entry(), tc.now, tc.history)
			if d.Outcome != tc.want {
				t.Fatalf("outcome %s (%s), want %s", d.Outcome, d.Reason, tc.want)
			}
			if tc.class != "" && d.ReasonClass != tc.class {
				t.Errorf("reason class %s, want %s", d.ReasonClass, tc.class)
			}
			if d.Reason == "" {
				t.Error("decision without a reason")
			}
			if tc.check != nil {
				tc.check(t, d)
			}
		})
	}
}

func TestGuardianVisibility(t *testing.T) {
	// Entry finalized 2026-11-20; birth dates give the ages named.
	births := map[int]string{11: "2015-03-15", 12: "2014-01-01", 17: "2009-06-30", 18: "2008-02-10"}
	hetus := map[int]string{11: "150315A9011", 12: "010114A921S", 17: "300609A903M", 18: "100208A9049"}
	now := time.Date(2026, 11, 22, 12, 0, 0, 0, helsinki)
	// The basis is what the builders code with 1.2.246.537.5.40202.201901
	// (FHIR FI base value set fi-base-restriction-parent-vs, fhir-fi/
	// finnish-base-profiles input/fsh/valuesets/restrictionparent-vs.fsh):
	// 1 not capable/disclosed, 2 capable/allows, 3 capable/forbids,
	// 4 capability unknown/not disclosed.
	tests := []struct {
		age        int
		consent    Consent
		prohibited bool
		want       bool
		basis      GuardianBasis
	}{
		{11, ConsentNotAssessed, false, true, GuardianMinorNotCapable},
		{11, ConsentRefused, false, true, GuardianMinorNotCapable}, // under 12 the consent is not asked
		{11, ConsentNotAssessed, true, false, GuardianProhibitedByProfessional},
		{12, ConsentGranted, false, true, GuardianConsentGranted},
		{12, ConsentRefused, false, false, GuardianConsentRefused},
		{12, ConsentNotAssessed, false, false, GuardianNotAssessed},
		{12, ConsentGranted, true, false, GuardianProhibitedByProfessional},
		{17, ConsentGranted, false, true, GuardianConsentGranted},
		{17, ConsentRefused, false, false, GuardianConsentRefused},
		{17, ConsentNotAssessed, false, false, GuardianNotAssessed},
		{18, ConsentGranted, false, false, GuardianNotApplicable},
		{18, ConsentNotAssessed, true, false, GuardianNotApplicable},
	}
	p := testPolicy()
	for _, tc := range tests {
		e := psychEntry()
		e.Client.BirthDate, e.Client.Hetu = MustDate(births[tc.age]), hetus[tc.age]
		e.Guardian = Guardian{MinorConsent: tc.consent, ProhibitedByProfessional: tc.prohibited}
		d := p.Decide(e, now, nil)
		if d.Outcome != OutcomeSubmit {
			t.Fatalf("age %d: outcome %s (%s)", tc.age, d.Outcome, d.Reason)
		}
		if d.GuardianVisible != tc.want || d.Guardian != tc.basis {
			t.Errorf("age %d consent %s prohibited %v: guardian visible %v basis %q, want %v %q", tc.age, tc.consent, tc.prohibited, d.GuardianVisible, d.Guardian, tc.want, tc.basis)
		}
		if d.Guardian.Disclosed() != d.GuardianVisible {
			t.Errorf("age %d: basis %q disagrees with visibility", tc.age, d.Guardian)
		}
	}
}

func TestGuardianThresholdIsConfiguration(t *testing.T) {
	p := testPolicy()
	p.GuardianAgeThreshold = 15
	e := psychEntry() // age 12, consent not assessed
	if d := p.Decide(e, time.Date(2026, 11, 22, 0, 0, 0, 0, helsinki), nil); !d.GuardianVisible {
		t.Error("with threshold 15 a 12-year-old's guardian should see the entry")
	}
}

func TestGoLiveIsConfiguration(t *testing.T) {
	p := testPolicy()
	r := p.Roles[RoleSchoolWelfareOfficer]
	r.GoLive = MustDate("2027-01-01")
	p.Roles[RoleSchoolWelfareOfficer] = r
	d := p.Decide(welfareEntry(), time.Date(2026, 11, 22, 0, 0, 0, 0, helsinki), nil)
	if d.Outcome != OutcomeHold || !d.NotBefore.Equal(time.Date(2027, 1, 1, 0, 0, 0, 0, helsinki)) {
		t.Fatalf("got %s not before %v", d.Outcome, d.NotBefore)
	}
}

func TestAgeOn(t *testing.T) {
	for _, tc := range []struct {
		birth, on string
		want      int
	}{
		{"2014-01-01", "2026-01-01", 12},
		{"2014-01-01", "2025-12-31", 11},
		{"2008-02-29", "2026-02-28", 17},
		{"2008-02-29", "2026-03-01", 18},
	} {
		if got := MustDate(tc.birth).AgeOn(MustDate(tc.on)); got != tc.want {
			t.Errorf("%s on %s: %d, want %d", tc.birth, tc.on, got, tc.want)
		}
	}
}

func TestDocumentIDsDeterministic(t *testing.T) {
	root := "1.2.246.10.2012566"
	a, b := DocumentID(root, "APT-PSY-1", 1), DocumentID(root, "APT-PSY-1", 1)
	if a != b || a != SetID(root, "APT-PSY-1") {
		t.Fatalf("ids differ: %s %s", a, b)
	}
	if DocumentID(root, "APT-PSY-1", 2) == a || DocumentID(root, "APT-PSY-2", 1) == a {
		t.Fatal("distinct revisions or entries share an id")
	}
	if MessageID(root, "APT-PSY-1", 1) == a {
		t.Fatal("message id equals document id")
	}
}
