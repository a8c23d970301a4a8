package wire_test

import (
	"fmt"

	"github.com/helsinki-student-welfare/kanta-gateway/internal/kantasample"
	"github.com/helsinki-student-welfare/kanta-gateway/wire"
)

// Reading a real archive request (HUS 2017): the frame's header and its
// copy of the document metadata; the CDA itself comes out byte-exact.
func ExampleParseMessage() {
	m, err := wire.ParseMessage(kantasample.Message())
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println("interaction:", m.Interaction)
	fmt.Println("processing code:", m.ProcessingCode)
	fmt.Println("document:", m.DocumentID, "version", m.Version)
	fmt.Println("CDA bytes:", len(m.Document) > 0)
	// Output:
	// interaction: RCMR_IN100002FI01
	// processing code: D
	// document: 1.2.246.537.10.15675350.10.1.11220.19098 version 1
	// CDA bytes: true
}

// What an acknowledgement means for a delivery is the same in both
// families: CA/AA done, CE/AE retry, CR/AR never.
func ExampleParseAck() {
	a := wire.NewAck(wire.DetailSignerNotTrusted, "ack-1", "1.2.246.10.2012566.10.2.77.1")
	a.Code = wire.AckCommitReject
	got, err := wire.ParseAck(wire.BuildAck(a))
	if err != nil {
		fmt.Println(err)
		return
	}
	d, _ := wire.LookupDetail(got.Detail)
	fmt.Println(got.Code, got.Detail, got.Code.Outcome() == wire.OutcomePermanent)
	fmt.Println(d.Text)
	// Output:
	// CR SIGNER_NOT_TRUSTED true
	// signer certificate does not chain to a trusted root
}
