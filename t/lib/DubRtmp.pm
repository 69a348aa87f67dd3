package DubRtmp;

# A minimal RTMP publisher for tests that need what encoders never send:
# any bytes in the stream name (CR/LF, invalid UTF-8, longer than
# nginx-rtmp keeps) and any timestamps on the tags.  Plain handshake,
# connect, createStream, publish, then audio and video messages; what the
# server sends back is only searched for the answers it waits for.
#
#   my $p = DubRtmp->new(port => $t->rtmp_port, app => 'live');
#   $p->publish("crlf\r\nX-Injected: yes");
#   $p->send_flv(DubTest::fixture('short'), ts => sub { ... });
#   $p->close;

use strict;
use warnings;

use IO::Select;
use IO::Socket::INET;
use Time::HiRes qw(time sleep);

my $CHUNK = 4096;

sub new {
    my ($class, %o) = @_;

    my $s = IO::Socket::INET->new(PeerAddr => '127.0.0.1',
                                  PeerPort => $o{port}, Proto => 'tcp',
                                  Timeout => 10)
        or die "rtmp: connect to $o{port}: $!\n";
    binmode $s;
    $s->autoflush(1);

    my $self = bless { sock => $s, app => $o{app}, port => $o{port},
                       in => '' }, $class;

    # handshake: C0 C1, then S0 S1 S2, then C2 (S1 back)

    my $c1 = pack('N N', 0, 0) . join '', map { chr int rand 256 } 1 .. 1528;
    $self->write("\x03" . $c1);
    my $s01 = $self->read_n(1 + 1536 + 1536);
    $self->write(substr($s01, 1, 1536));

    # our chunk size first, then connect

    $self->message(2, 1, 0, 0, pack('N', $CHUNK));

    $self->message(3, 20, 0, 0, amf_string('connect') . amf_number(1)
        . amf_object(app => $o{app}, type => 'nonprivate',
                     flashVer => 'FMLE/3.0 (compatible; dubtest)',
                     tcUrl => "rtmp://127.0.0.1:$o{port}/$o{app}"));
    $self->expect(qr/_result/, 'connect');

    $self->message(3, 20, 0, 0, amf_string('createStream') . amf_number(2)
        . "\x05");
    $self->expect(qr/_result/, 'createStream');

    return $self;
}

# publishes under "name" (bytes, as they are) and waits for the answer
sub publish {
    my ($self, $name) = @_;
    $self->message(8, 20, 1, 0, amf_string('publish') . amf_number(3)
        . "\x05" . amf_string($name) . amf_string('live'));
    $self->expect(qr/NetStream\.Publish\.Start/, 'publish');
    return $self;
}

# one FLV tag: 8 audio, 9 video; "ts" in ms
sub send_tag {
    my ($self, $type, $ts, $data) = @_;
    $self->message($type == 8 ? 4 : 6, $type, 1, $ts, $data);
    $self->drain;
}

# Sends the audio and video tags of an FLV file in real time (paced by
# their own timestamps); "ts" (optional) maps each tag's timestamp,
# given (ts, type, data), to the one sent.  Returns the tags sent.
sub send_flv {
    my ($self, $file, %o) = @_;
    my @tags = flv_tags($file);
    my $start = time;

    for my $tag (@tags) {
        my ($type, $ts, $data) = @$tag;
        my $wait = $start + $ts / 1000 - time;
        sleep $wait if $wait > 0;
        my $out = $o{ts} ? $o{ts}->($ts, $type, $data) : $ts;
        $self->send_tag($type, $out, $data);
    }

    return \@tags;
}

sub close {
    my ($self) = @_;
    CORE::close($self->{sock}) if $self->{sock};
    delete $self->{sock};
}

# [type, ts, data] of each audio and video tag of an FLV file
sub flv_tags {
    my ($file) = @_;
    open my $fh, '<:raw', $file or die "$file: $!";
    local $/;
    my $d = <$fh>;
    CORE::close($fh);

    my @tags;
    my $pos = unpack('N', substr($d, 5, 4)) + 4;

    while ($pos + 11 <= length $d) {
        my ($type, $s1, $s2, $t1, $t2, $text) =
            unpack('C C n C n C', substr($d, $pos, 8));
        my $size = ($s1 << 16) | $s2;
        my $ts = (($text << 24) | ($t1 << 16) | $t2) & 0xffffffff;
        push @tags, [ $type, $ts, substr($d, $pos + 11, $size) ]
            if $type == 8 || $type == 9;
        $pos += 11 + $size + 4;
    }

    return @tags;
}

# is this tag a media frame (AAC or AVC data), not a sequence header or
# an end of sequence: a packet for a demuxer
sub is_media {
    my ($type, $data) = @_;
    return 0 if length $data < 2;
    my $codec = $type == 9 ? ord($data) & 0x0f : ord($data) >> 4;
    return ord(substr $data, 1) == 1
        && (($type == 9 && $codec == 7) || ($type == 8 && $codec == 10));
}

# a message in chunks: a type 0 header, then type 3 headers
sub message {
    my ($self, $csid, $type, $msid, $ts, $data) = @_;
    die "rtmp: timestamp $ts needs the extended form\n" if $ts >= 0xffffff;
    my $len = length $data;
    my $out = pack('C', $csid) . substr(pack('N', $ts), 1)
        . substr(pack('N', $len), 1) . pack('C V', $type, $msid);

    my $off = 0;
    do {
        $out .= pack('C', 0xc0 | $csid) if $off;
        $out .= substr($data, $off, $CHUNK);
        $off += $CHUNK;
    } while ($off < $len);

    $self->write($out);
}

sub write {
    my ($self, $data) = @_;
    my $s = $self->{sock} or die "rtmp: closed\n";
    local $SIG{PIPE} = 'IGNORE';
    while (length $data) {
        my $n = syswrite($s, $data);
        die "rtmp: write: $!\n" unless defined $n;
        substr($data, 0, $n) = '';
    }
}

sub read_n {
    my ($self, $n) = @_;
    my $deadline = time + 10;
    while (length $self->{in} < $n) {
        $self->fill($deadline - time) or die "rtmp: read: timeout or EOF\n";
    }
    return substr($self->{in}, 0, $n, '');
}

sub fill {
    my ($self, $timeout) = @_;
    return 0 if $timeout <= 0;
    return 0 unless IO::Select->new($self->{sock})->can_read($timeout);
    my $n = sysread($self->{sock}, my $buf, 65536);
    return 0 unless $n;
    $self->{in} .= $buf;
    return 1;
}

# waits until what the server sent matches, and forgets it up to there
sub expect {
    my ($self, $re, $what) = @_;
    my $deadline = time + 10;
    while ($self->{in} !~ $re) {
        $self->fill($deadline - time)
            or die "rtmp: no answer to $what: "
                   . ($self->{in} =~ s/[^ -~]+/./gr) . "\n";
    }
    $self->{in} =~ s/^.*?$re//s;
}

# reads (and forgets) what the server sent, without waiting
sub drain {
    my ($self) = @_;
    while (IO::Select->new($self->{sock})->can_read(0)) {
        my $n = sysread($self->{sock}, my $buf, 65536);
        last unless $n;
    }
    $self->{in} = '';
}

sub amf_number { "\x00" . pack('d>', $_[0]) }
sub amf_string { "\x02" . pack('n', length $_[0]) . $_[0] }

sub amf_object {
    my (@kv) = @_;
    my $o = "\x03";
    while (my ($k, $v) = splice @kv, 0, 2) {
        $o .= pack('n', length $k) . $k . amf_string($v);
    }
    return $o . "\x00\x00\x09";
}

1;
