package gateway

import (
	"fmt"
	"log/slog"
	"sort"
	"strings"

	"github.com/helsinki-student-welfare/kanta-gateway/config"
	"github.com/helsinki-student-welfare/kanta-gateway/documents/cda"
	"github.com/helsinki-student-welfare/kanta-gateway/documents/fhir"
	"github.com/helsinki-student-welfare/kanta-gateway/hl7"
)

// frameCodes are the codes the archive message frame takes from
// configuration (name → default). Confirmed: RCMR_IN100016FI01 of
// tietolaurip/HUS-tietoallas-integration carries reasonCode 1 "Korjaus".
var frameCodes = map[string]string{"frame.correction_reason": "1"}

// CodeRow is one code name of every builder with its effective value.
type CodeRow struct {
	Name      string
	Value     string
	System    string // code system, when the row is a code of one
	Builder   string // cda, fhir or frame
	Confirmed bool   // seen in public material; false = our choice, check with Kela
	Set       bool   // the value comes from configuration (documents.codes)
}

// CodeTable lists every code name the builders know, sorted by name, with
// the value a document would carry under this configuration. A name no
// builder knows is an error naming it: a misspelt override must never
// leave a default in place silently.
func CodeTable(codes map[string]string) ([]CodeRow, error) {
	var unknown []string
	rows := map[string]CodeRow{}
	cdaTable, err := cda.Codes(cda.Options{Codes: codes})
	if err != nil {
		return nil, fmt.Errorf("documents.codes: %w", err)
	}
	for _, r := range cdaTable {
		rows[r.Name] = CodeRow{Name: r.Name, Value: r.Code.Code, System: r.System, Builder: "cda", Confirmed: r.Confirmed}
	}
	unconfirmedFHIR := map[string]bool{}
	for _, n := range fhir.Unconfirmed() {
		unconfirmedFHIR[n] = true
	}
	for name, def := range fhir.DefaultCodes() {
		if _, shared := rows[name]; shared {
			continue // a name both routes read (guardian codes): one row
		}
		v := def
		if o, ok := codes[name]; ok {
			v = o
		}
		rows[name] = CodeRow{Name: name, Value: v, Builder: "fhir", Confirmed: !unconfirmedFHIR[name]}
	}
	for name, def := range frameCodes {
		v := def
		if o, ok := codes[name]; ok {
			v = o
		}
		rows[name] = CodeRow{Name: name, Value: v, System: hl7.SystemCorrectionReason, Builder: "frame", Confirmed: true}
	}
	for name, v := range codes {
		r, ok := rows[name]
		if !ok {
			unknown = append(unknown, name)
			continue
		}
		if v == "" {
			return nil, fmt.Errorf("documents.codes: empty value for %q", name)
		}
		r.Set = true
		rows[name] = r
	}
	if len(unknown) > 0 {
		sort.Strings(unknown)
		return nil, fmt.Errorf("documents.codes: unknown code name %s (see `kanta-gateway config check` for the names)", strings.Join(quoted(unknown), ", "))
	}
	out := make([]CodeRow, 0, len(rows))
	for _, r := range rows {
		out = append(out, r)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

func quoted(names []string) []string {
	out := make([]string, len(names))
	for i, n := range names {
		out[i] = fmt.Sprintf("%q", n)
	}
	return out
}

// UnconfirmedInUse lists the unconfirmed codes that documents of this
// configuration carry with their default value: the codes of the routes in
// use (cda, fhir; the frame with cda) of the archives a role sends to. A
// code set by configuration is the operator's decision and is not listed.
func UnconfirmedInUse(cfg *config.Config) ([]CodeRow, error) {
	rows, err := CodeTable(cfg.Documents.Codes)
	if err != nil {
		return nil, err
	}
	// The builders in use per archive: "cda/patient", "fhir/social", ...
	inUse := map[string]bool{}
	for _, rule := range cfg.Policy.Roles {
		a := string(rule.Archive)
		switch cfg.Documents.Route[rule.Archive] {
		case "", "cda":
			inUse["cda/"+a], inUse["frame/"+a] = true, true
		case "fhir":
			inUse["fhir/"+a] = true
		case "both":
			inUse["cda/"+a], inUse["frame/"+a], inUse["fhir/"+a] = true, true, true
		}
	}
	var out []CodeRow
	for _, r := range rows {
		// A row without a value names only a code system (the code is the
		// entry's own); configuration cannot change it, config check shows it.
		if r.Confirmed || r.Set || r.Value == "" || !usedBy(r, inUse) {
			continue
		}
		out = append(out, r)
	}
	return out, nil
}

// usedBy: health.* names belong to the patient archive, social.* to the
// social welfare one (fhir.health.*, fhir.social.* likewise); other names
// to both.
func usedBy(r CodeRow, inUse map[string]bool) bool {
	n := strings.TrimPrefix(r.Name, "fhir.")
	switch {
	case strings.HasPrefix(n, "health."):
		// The guardian names are read by the FHIR builder too.
		return inUse[r.Builder+"/patient"] || (strings.HasPrefix(n, "health.guardian_disclosure.") && (inUse["fhir/patient"] || inUse["fhir/social"]))
	case strings.HasPrefix(n, "social."):
		return inUse[r.Builder+"/social"]
	}
	return inUse[r.Builder+"/patient"] || inUse[r.Builder+"/social"]
}

// WarnUnconfirmedCodes logs, once at start, each unconfirmed code that
// documents will carry with our default value, so that an operator knows
// what to confirm with Kela before production. Names only, no data.
func WarnUnconfirmedCodes(log *slog.Logger, cfg *config.Config) error {
	rows, err := UnconfirmedInUse(cfg)
	if err != nil {
		return err
	}
	for _, r := range rows {
		log.Warn("unconfirmed code in use: set documents.codes to Kela's value once known",
			"code_name", r.Name, "value", r.Value, "code_system", r.System, "env", config.EnvCodeName(r.Name))
	}
	return nil
}
