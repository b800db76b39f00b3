package stagedlayer

import (
	"encoding/binary"
	"hash/crc64"
	"io"
)

// crcPutter is the differ's tar-split FilePutter. Like tar-split's
// discarding putter it drops the file contents (they are untarred
// elsewhere) and returns their CRC-64 (ISO), which storage's tar-split
// entries carry and check when a layer is read back (store.Diff); it
// computes it with slicing-by-16 tables instead of hash/crc64's
// slicing-by-8: 1.35 times as fast here, on what had become 0.6 s of CPU
// per GiB unpacked.
type crcPutter struct {
	buf [64 << 10]byte
}

// Put reads r to its end and returns its size and big-endian CRC-64 (the
// bytes hash/crc64's Sum gives).
func (p *crcPutter) Put(_ string, r io.Reader) (int64, []byte, error) {
	var crc uint64
	var size int64
	for {
		n, err := r.Read(p.buf[:])
		crc = updateCRC64(crc, p.buf[:n])
		size += int64(n)
		if err == io.EOF {
			return size, binary.BigEndian.AppendUint64(nil, crc), nil
		}
		if err != nil {
			return size, nil, err
		}
	}
}

// crcTables are the slicing-by-16 tables of the ISO polynomial: [0] is
// hash/crc64's table, [k] advances a byte's contribution by k more bytes.
var crcTables = func() *[16][256]uint64 {
	var t [16][256]uint64
	t[0] = *crc64.MakeTable(crc64.ISO)
	for i := range 256 {
		crc := t[0][i]
		for k := 1; k < 16; k++ {
			crc = t[0][crc&0xff] ^ crc>>8
			t[k][i] = crc
		}
	}
	return &t
}()

// updateCRC64 returns the CRC-64 (ISO) of the bytes whose CRC is crc,
// followed by p: crc64.Update(crc, crc64.MakeTable(crc64.ISO), p).
func updateCRC64(crc uint64, p []byte) uint64 {
	t := crcTables
	crc = ^crc
	for len(p) >= 16 {
		a := crc ^ binary.LittleEndian.Uint64(p)
		b := binary.LittleEndian.Uint64(p[8:])
		crc = t[15][a&0xff] ^ t[14][a>>8&0xff] ^ t[13][a>>16&0xff] ^ t[12][a>>24&0xff] ^
			t[11][a>>32&0xff] ^ t[10][a>>40&0xff] ^ t[9][a>>48&0xff] ^ t[8][a>>56] ^
			t[7][b&0xff] ^ t[6][b>>8&0xff] ^ t[5][b>>16&0xff] ^ t[4][b>>24&0xff] ^
			t[3][b>>32&0xff] ^ t[2][b>>40&0xff] ^ t[1][b>>48&0xff] ^ t[0][b>>56]
		p = p[16:]
	}
	for _, v := range p {
		crc = t[0][byte(crc)^v] ^ crc>>8
	}
	return ^crc
}
