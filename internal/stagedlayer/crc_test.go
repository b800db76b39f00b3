package stagedlayer

import (
	"bytes"
	"hash/crc64"
	"io"
	"math/rand/v2"
	"testing"
	"testing/iotest"

	tarstorage "github.com/vbatts/tar-split/tar/storage"
)

// updateCRC64 is hash/crc64's ISO CRC for every length around the 16-byte
// step, from any starting CRC (a file read in pieces).
func TestUpdateCRC64MatchesHashCRC64(t *testing.T) {
	iso := crc64.MakeTable(crc64.ISO)
	data := make([]byte, 4096)
	r := rand.New(rand.NewPCG(1, 2))
	for i := range data {
		data[i] = byte(r.Uint32())
	}
	for n := range 70 {
		for _, split := range []int{0, n / 3, n} {
			want := crc64.Update(crc64.Update(0, iso, data[:split]), iso, data[split:n])
			if got := updateCRC64(updateCRC64(0, data[:split]), data[split:n]); got != want {
				t.Fatalf("%d bytes split at %d: %x, want %x", n, split, got, want)
			}
		}
	}
	if got, want := updateCRC64(0, data), crc64.Checksum(data, iso); got != want {
		t.Fatalf("4096 bytes: %x, want %x", got, want)
	}
}

// crcPutter gives the size and checksum bytes of tar-split's own
// discarding putter, which storage's tar-split entries were made with,
// however the reader splits its reads.
func TestCRCPutterMatchesTarSplit(t *testing.T) {
	data := bytes.Repeat([]byte("layer bytes \x00\xff"), 20000)
	wantSize, wantSum, err := tarstorage.NewDiscardFilePutter().Put("f", bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	for how, r := range map[string]io.Reader{
		"whole reads":        bytes.NewReader(data),
		"one byte at a time": iotest.OneByteReader(bytes.NewReader(data)),
		"half reads":         iotest.HalfReader(bytes.NewReader(data)),
	} {
		size, sum, err := (&crcPutter{}).Put("f", r)
		if err != nil || size != wantSize || !bytes.Equal(sum, wantSum) {
			t.Errorf("%s: %d %x %v; want %d %x", how, size, sum, err, wantSize, wantSum)
		}
	}
}
