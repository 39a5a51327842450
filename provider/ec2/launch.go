package ec2

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"maps"
	"slices"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/aws-sdk-go-v2/service/ec2/types"
	"golang.org/x/crypto/ssh"

	"github.com/farmhand/farmhand/provider"
)

// maxClientToken is EC2's limit on ClientToken: 64 ASCII characters.
const maxClientToken = 64

// maxUserData is EC2's limit on user data before base64.
const maxUserData = 16 * 1024

// clientToken returns the ClientToken for a launch token: the token itself
// when EC2 accepts it (at most 64 printable ASCII characters), else the hex
// SHA-256 of it, which is 64 characters and as unique.
func clientToken(token string) string {
	ok := len(token) <= maxClientToken
	for i := 0; ok && i < len(token); i++ {
		ok = token[i] > ' ' && token[i] < 0x7f
	}
	if ok {
		return token
	}
	sum := sha256.Sum256([]byte(token))
	return hex.EncodeToString(sum[:])
}

// Launch starts spec.Count servers with one RunInstances call (MinCount
// spec.MinCount, MaxCount spec.Count), idempotent on spec.Token through
// EC2's ClientToken. Tags go on the instances and their volumes at
// creation (TagSpecifications). The SSH key, if any, is imported once as a
// key pair named after its fingerprint.
func (p *Provider) Launch(ctx context.Context, spec provider.LaunchSpec) ([]provider.Server, error) {
	const op = "ec2.RunInstances"
	if err := validate(spec); err != nil {
		return nil, provider.NewError(provider.InvalidArgument, op, err)
	}
	minCount := spec.MinCount
	if minCount == 0 {
		minCount = spec.Count
	}
	in := &ec2.RunInstancesInput{
		ImageId:          aws.String(spec.Image),
		MinCount:         aws.Int32(int32(minCount)),
		MaxCount:         aws.Int32(int32(spec.Count)),
		ClientToken:      aws.String(clientToken(spec.Token)),
		SecurityGroupIds: p.opts.SecurityGroupIDs,
	}
	if spec.InstanceType != "" {
		in.InstanceType = types.InstanceType(spec.InstanceType)
	}
	if spec.Zone != "" {
		in.Placement = &types.Placement{AvailabilityZone: aws.String(spec.Zone)}
		if subnet := p.opts.Subnets[spec.Zone]; subnet != "" {
			in.SubnetId = aws.String(subnet)
		}
	}
	if prof := p.opts.InstanceProfile; prof != "" {
		if strings.HasPrefix(prof, "arn:") {
			in.IamInstanceProfile = &types.IamInstanceProfileSpecification{Arn: aws.String(prof)}
		} else {
			in.IamInstanceProfile = &types.IamInstanceProfileSpecification{Name: aws.String(prof)}
		}
	}
	if len(spec.UserData) > 0 {
		in.UserData = aws.String(base64.StdEncoding.EncodeToString(spec.UserData))
	}
	if len(spec.Tags) > 0 {
		tags := tagsOf(spec.Tags)
		in.TagSpecifications = []types.TagSpecification{
			{ResourceType: types.ResourceTypeInstance, Tags: tags},
			{ResourceType: types.ResourceTypeVolume, Tags: tags},
		}
	}
	if spec.SSHPublicKey != "" {
		name, err := p.ensureKeyPair(ctx, spec.SSHPublicKey)
		if err != nil {
			return nil, err
		}
		in.KeyName = aws.String(name)
	}
	out, err := p.ec2.RunInstances(ctx, in)
	if err != nil {
		err = wrap(op, launchWhat(spec), err)
		var pe *provider.Error
		if errors.As(err, &pe) && pe.Code == provider.NotFound {
			// The spec names a subnet, security group or key pair that
			// does not exist: the launch's arguments are wrong, no server
			// is missing.
			pe.Code = provider.InvalidArgument
		}
		p.log.WarnContext(ctx, "launch failed", "zone", spec.Zone, "count", spec.Count, "token", spec.Token, "code", provider.CodeOf(err).String(), "api_code", apiCode(err))
		return nil, err
	}
	servers := make([]provider.Server, 0, len(out.Instances))
	for i := range out.Instances {
		s := toServer(&out.Instances[i])
		// RunInstances answers with the tags it applied; should an answer
		// come without them, the spec's tags are what the instance got.
		for k, v := range spec.Tags {
			if _, ok := s.Tags[k]; !ok {
				s.Tags[k] = v
			}
		}
		servers = append(servers, s)
	}
	p.log.InfoContext(ctx, "launched", "zone", spec.Zone, "count", len(servers), "token", spec.Token,
		"reservation", aws.ToString(out.ReservationId), "ids", idsOf(servers))
	return servers, nil
}

func validate(spec provider.LaunchSpec) error {
	switch {
	case spec.Token == "":
		return errors.New("launch spec: empty Token")
	case spec.Count < 1:
		return errors.New("launch spec: Count " + itoa(spec.Count) + " < 1")
	case spec.MinCount < 0 || spec.MinCount > spec.Count:
		return errors.New("launch spec: MinCount " + itoa(spec.MinCount) + " outside 0.." + itoa(spec.Count))
	case spec.Count > 1<<30:
		return errors.New("launch spec: Count " + itoa(spec.Count) + " too large")
	case spec.Image == "":
		return errors.New("launch spec: empty Image")
	case len(spec.UserData) > maxUserData:
		return errors.New("launch spec: UserData of " + itoa(len(spec.UserData)) + " bytes exceeds EC2's 16384")
	}
	for k := range spec.Tags {
		if k == "" || strings.HasPrefix(strings.ToLower(k), "aws:") {
			return errors.New("launch spec: tag key " + quote(k) + " is not allowed on EC2")
		}
	}
	return nil
}

func launchWhat(spec provider.LaunchSpec) string {
	what := "launch of " + itoa(spec.Count) + " " + spec.InstanceType + " from " + spec.Image
	if spec.Zone != "" {
		what += " in zone " + spec.Zone
	}
	return what + " (token " + quote(spec.Token) + ")"
}

// ensureKeyPair imports the public key as a key pair, once per distinct
// key for the life of the Provider, and returns its name: KeyNamePrefix
// and the first 32 hex digits of the SHA-256 of the key, so that a key
// always gets the same name and a name always means the same key.
func (p *Provider) ensureKeyPair(ctx context.Context, authorizedKey string) (string, error) {
	const op = "ec2.ImportKeyPair"
	key, _, _, _, err := ssh.ParseAuthorizedKey([]byte(authorizedKey))
	if err != nil {
		return "", provider.Errorf(provider.InvalidArgument, op, "launch spec: SSHPublicKey is not an authorized_keys line: %v", err)
	}
	sum := sha256.Sum256(key.Marshal())
	name := p.opts.KeyNamePrefix + hex.EncodeToString(sum[:16])

	p.keysMu.Lock()
	defer p.keysMu.Unlock()
	if p.keys[name] {
		return name, nil
	}
	// The comment of the caller's line is dropped: it may name a person
	// or a host, and EC2 shows it to anyone who can describe key pairs.
	material := ssh.MarshalAuthorizedKey(key)
	_, err = p.ec2.ImportKeyPair(ctx, &ec2.ImportKeyPairInput{KeyName: aws.String(name), PublicKeyMaterial: material})
	switch {
	case err == nil:
		p.log.InfoContext(ctx, "imported key pair", "key_name", name, "key_type", key.Type())
	case apiCode(err) == "InvalidKeyPair.Duplicate":
		// Imported earlier, by this or another controller: the name is
		// derived from the key, so it is the same key.
	default:
		return "", wrap(op, "key pair "+name, err)
	}
	p.keys[name] = true
	return name, nil
}

func tagsOf(m map[string]string) []types.Tag {
	tags := make([]types.Tag, 0, len(m))
	for _, k := range slices.Sorted(maps.Keys(m)) {
		tags = append(tags, types.Tag{Key: aws.String(k), Value: aws.String(m[k])})
	}
	return tags
}
