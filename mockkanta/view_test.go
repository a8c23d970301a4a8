package mockkanta

import (
	"slices"
	"testing"

	"github.com/helsinki-student-welfare/kanta-gateway/documents"
)

func ids(ds []*Document) []string {
	var out []string
	for _, d := range ds {
		out = append(out, d.ID)
	}
	slices.Sort(out)
	return out
}

// The visibility rules, on stored metadata (the HTTP tests show the same
// through real messages).
func TestMyKantaView(t *testing.T) {
	birth := documents.MustDate("2014-06-15") // 12 on 2026-06-15, 18 on 2032-06-15
	ds := []*Document{
		{ID: "open", SetID: "open", Version: 1, GuardianDisclosure: true},
		{ID: "no-guardian", SetID: "no-guardian", Version: 1},
		{ID: "concealed", SetID: "concealed", Version: 1, Concealed: true, GuardianDisclosure: true},
		{ID: "delayed", SetID: "delayed", Version: 1, ReleaseDate: documents.MustDate("2026-12-01"), GuardianDisclosure: true},
		{ID: "v1", SetID: "v1", Version: 1, GuardianDisclosure: true},
		{ID: "v2", SetID: "v1", Version: 2, GuardianDisclosure: true},
		{ID: "bad1", SetID: "bad1", Version: 1, GuardianDisclosure: true},
		{ID: "bad2", SetID: "bad1", Version: 2, EnteredInError: true, GuardianDisclosure: true},
	}
	day := documents.MustDate
	tests := []struct {
		name   string
		viewer Viewer
		on     documents.Date
		want   []string
	}{
		{"self before release date", ViewerSelf, day("2026-11-30"), []string{"no-guardian", "open", "v2"}},
		{"self on release date", ViewerSelf, day("2026-12-01"), []string{"delayed", "no-guardian", "open", "v2"}},
		{"guardian of a 12-year-old", ViewerGuardian, day("2026-12-01"), []string{"delayed", "open", "v2"}},
		{"guardian day before 18th birthday", ViewerGuardian, day("2032-06-14"), []string{"delayed", "open", "v2"}},
		{"guardian on 18th birthday", ViewerGuardian, day("2032-06-15"), nil},
	}
	for _, tt := range tests {
		got := ids(MyKantaView(ds, tt.viewer, birth, tt.on))
		if !slices.Equal(got, tt.want) {
			t.Errorf("%s: sees %v, want %v", tt.name, got, tt.want)
		}
	}
}

func TestProfessionalView(t *testing.T) {
	ds := []*Document{
		{ID: "psy", SetID: "psy", Version: 1, Archive: documents.ArchivePatient},
		{ID: "kur", SetID: "kur", Version: 1, Archive: documents.ArchiveSocial},
		{ID: "hidden", SetID: "hidden", Version: 1, Archive: documents.ArchiveSocial, Concealed: true},
	}
	tests := []struct {
		role       documents.Role
		permission bool
		want       []string
	}{
		{documents.RolePsychologist, false, []string{"psy"}},
		{documents.RoleSchoolWelfareOfficer, false, []string{"hidden", "kur"}},
		{documents.RolePsychologist, true, []string{"hidden", "kur", "psy"}},
		{documents.RoleSchoolWelfareOfficer, true, []string{"hidden", "kur", "psy"}},
	}
	for _, tt := range tests {
		if got := ids(ProfessionalView(ds, tt.role, tt.permission)); !slices.Equal(got, tt.want) {
			t.Errorf("%s permission=%v: sees %v, want %v", tt.role, tt.permission, got, tt.want)
		}
	}
}
